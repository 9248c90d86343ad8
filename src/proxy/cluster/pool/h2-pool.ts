// HTTP/2 pool for one upstream host: one multiplexed session (h2c prior knowledge), re-opened when it ends.
import http2 from 'node:http2';
import net from 'node:net';
import { SessionIdle } from '../../common/session-idle.ts';
import type { UpstreamTls } from '../../tls/upstream.ts';
import type { ClusterStats } from '../stats.ts';
import type { UpstreamPool } from './pool.ts';

/** Settings of one host's HTTP/2 pool, from the Cluster. */
export interface H2PoolConfig {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** The session closes after this many ms with no open stream (0: never). */
  idleTimeoutMs: number;
  /** TLS to the host (the cluster's transport socket); absent: h2c. */
  transport?: UpstreamTls;
}

/** Outcome of asking the pool for a session. */
export type SessionResult = { session: http2.ClientHttp2Session } | { failure: string };

export class H2Pool implements UpstreamPool {
  readonly protocol = 'http2';
  private readonly config: H2PoolConfig;
  private readonly stats: ClusterStats;
  private session: http2.ClientHttp2Session | undefined;
  /** The live session's idle_timeout (undefined when off). */
  private idle: SessionIdle | undefined;

  constructor(config: H2PoolConfig, stats: ClusterStats) {
    this.config = config;
    this.stats = stats;
  }

  get connections(): number {
    return this.session && !this.session.destroyed ? 1 : 0;
  }

  /**
   * A new stream on the live session (a new session is connecting when there was none: requests
   * queue inside it). Throws when node:http2 refuses the request.
   */
  request(headers: string[], endStream: boolean): http2.ClientHttp2Stream {
    const stream = this.get().request(headers, { endStream });
    const idle = this.idle;
    if (idle !== undefined) {
      idle.streamOpened();
      stream.on('close', idle.streamClosed);
    }
    return stream;
  }

  /** A live session; a new one is connecting when there was none (requests queue inside it). */
  private get(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.destroyed && !s.closed) return s;
    const session = http2.connect(
      `http://${this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host}:${this.config.port}`,
      {
        peerMaxConcurrentStreams: 1000,
        settings: { enablePush: false, initialWindowSize: 1 << 20 },
        // Nagle off: without it a small frame (a unary gRPC call, trailers) waits for the
        // peer's delayed ACK, up to 40 ms (http2.connect does not set it).
        createConnection: () =>
          this.config.transport
            ? this.config.transport.connect(this.config.host, this.config.port, 'h2')
            : net.connect({ host: this.config.host, port: this.config.port, noDelay: true }),
      },
    );
    this.stats.cxTotal++;
    this.stats.cxActive++;
    // idle_timeout: no open stream for that long (as Envoy's common_http_protocol_options).
    const idle =
      this.config.idleTimeoutMs > 0
        ? new SessionIdle(this.config.idleTimeoutMs, () => session.close())
        : undefined;
    this.idle = idle;
    const timer =
      this.config.connectTimeoutMs > 0
        ? setTimeout(() => session.destroy(new Error('connect timeout')), this.config.connectTimeoutMs)
        : undefined;
    session.once('connect', () => {
      if (timer) clearTimeout(timer);
      // Large flow-control window on the connection, as Envoy does (256 MiB by default).
      try {
        session.setLocalWindowSize(16 * 1024 * 1024);
      } catch {
        // session already gone
      }
    });
    session.on('error', () => {
      if (timer) clearTimeout(timer);
    });
    session.once('close', () => {
      if (timer) clearTimeout(timer);
      idle?.stop();
      this.stats.cxActive--;
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  drain(): void {
    this.session?.close();
    this.session = undefined;
  }

  destroy(): void {
    this.session?.destroy();
    this.session = undefined;
  }
}
