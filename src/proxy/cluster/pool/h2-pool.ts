// HTTP/2 pool for one upstream host: multiplexed sessions of the proxy's own HTTP/2 codec (h2c or TLS), a new one when none can take a stream.
import type net from 'node:net';
import { SessionIdle } from '../../common/session-idle.ts';
import { keepShape } from '../../common/shape-anchor.ts';
import { H2ClientSession } from '../../http/h2/client-session.ts';
import type { H2Stream, H2StreamHandler } from '../../http/h2/stream.ts';
import { connectUpstream, socketReadyEvent, type UpstreamTls } from '../../tls/upstream.ts';
import type { ClusterStats } from '../stats.ts';
import type { UpstreamPool } from './pool.ts';

/** Settings of one host's HTTP/2 pool, from the Cluster. */
export interface H2PoolConfig {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** A session closes after this many ms with no open stream (0: never). */
  idleTimeoutMs: number;
  /** TLS to the host (the cluster's transport socket); absent: h2c. */
  transport?: UpstreamTls;
}

/** One pooled session and its idle_timeout (undefined when off). */
class PooledSession {
  readonly session: H2ClientSession;
  readonly idle: SessionIdle | undefined;

  constructor(session: H2ClientSession, idle: SessionIdle | undefined) {
    this.session = session;
    this.idle = idle;
  }
}

export class H2Pool implements UpstreamPool {
  readonly protocol = 'http2';
  private readonly config: H2PoolConfig;
  private readonly stats: ClusterStats;
  /** Live sessions, newest last: a stream goes to the newest one that can take it. */
  private readonly sessions: PooledSession[] = [];

  constructor(config: H2PoolConfig, stats: ClusterStats) {
    this.config = config;
    this.stats = stats;
  }

  get connections(): number {
    return this.sessions.length;
  }

  /**
   * A new stream with the request head `headers` on a session that can take it (a new session is
   * connecting when none can: the request waits in its output).
   */
  request(headers: readonly string[], endStream: boolean, handler: H2StreamHandler): H2Stream {
    const pooled = this.get();
    pooled.idle?.streamOpened();
    return pooled.session.request(headers, endStream, handler);
  }

  private get(): PooledSession {
    const list = this.sessions;
    for (let i = list.length - 1; i >= 0; i--) if (list[i].session.available) return list[i];
    return this.open();
  }

  private open(): PooledSession {
    const { host, port, transport, connectTimeoutMs, idleTimeoutMs } = this.config;
    const socket: net.Socket = connectUpstream(transport, host, port, { use: 'h2' });
    const ready = socketReadyEvent(socket);
    let pooled: PooledSession | undefined;
    const session = new H2ClientSession(
      socket,
      {
        streamClosed: (stream) => {
          pooled?.idle?.streamClosed();
          // Its attempt, router and the client's stream keep the HTTP/2 path's hidden classes alive while idle.
          keepShape('h2-upstream-stream', stream);
        },
        sessionClosed: () => {
          // Kept (its buffers dropped) for its hidden classes, should every upstream session close while idle.
          session.release();
          keepShape('h2-client-session', session);
          if (timer) clearTimeout(timer);
          pooled?.idle?.stop();
          this.stats.cxActive--;
          // In place: replacing the array (a field that never changed before) deoptimized request().
          const i = pooled === undefined ? -1 : this.sessions.indexOf(pooled);
          if (i >= 0) this.sessions.splice(i, 1);
        },
      },
      ready,
    );
    this.stats.cxTotal++;
    this.stats.cxActive++;
    const timer =
      connectTimeoutMs > 0 ? setTimeout(() => session.destroy(), connectTimeoutMs).unref() : undefined;
    if (timer) socket.once(ready, () => clearTimeout(timer));
    // idle_timeout: no open stream for that long (as Envoy's common_http_protocol_options).
    const idle = idleTimeoutMs > 0 ? new SessionIdle(idleTimeoutMs, () => session.close()) : undefined;
    pooled = new PooledSession(session, idle);
    this.sessions.push(pooled);
    return pooled;
  }

  drain(): void {
    for (const p of this.sessions) p.session.close();
  }

  destroy(): void {
    for (const p of [...this.sessions]) p.session.destroy();
  }
}
