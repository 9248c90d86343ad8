// The HTTP connection manager of one filter chain: picks the codec, owns its connections, drains them.
// Each request becomes an HttpStream (stream/http-stream.ts) whatever the codec.
import http2 from 'node:http2';
import type net from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { IdleSweep } from '../common/idle-sweep.ts';
import { SessionIdle } from '../common/session-idle.ts';
import type { HcmConfig } from './connection-manager-config.ts';
import { H1ServerConnection } from './h1/server-connection.ts';
import { startsWithPreface } from './h2/preface.ts';
import { H2ServerStream } from './h2/server-stream.ts';
import type { HttpStats } from './http-stats.ts';
import type { RouteTable } from './router/route-table.ts';
import type { StreamHooks, StreamManager } from './stream/stream-api.ts';

/** Streams opened and reset early by the client, per HTTP/2 session. */
const PREMATURE = new WeakMap<http2.Http2Session, { streams: number; resets: number }>();
/** idle_timeout of each HTTP/2 session (none when the timeout is off). */
const IDLE = new WeakMap<http2.Http2Session, SessionIdle>();

/** Where an HCM finds its routes: an RDS subscription (live) or the inline table. */
export type RouteProvider = () => RouteTable | undefined;

export class HttpConnectionManager implements StreamManager {
  readonly config: HcmConfig;
  readonly routes: RouteProvider;
  readonly clusters: ClusterManager;
  readonly stats: HttpStats;
  draining = false;
  /** Observers of every request's lifecycle (telemetry, hardening); see stream/stream-api.ts. */
  readonly hooks: StreamHooks[] = [];
  private readonly h1 = new Set<H1ServerConnection>();
  private readonly h2Sessions = new Set<http2.ServerHttp2Session>();
  private h2server: http2.Http2Server | undefined;
  /** stream_idle_timeout of every HTTP/2 stream (undefined when the timeout is off). */
  private readonly streamIdle: IdleSweep | undefined;

  constructor(config: HcmConfig, routes: RouteProvider, clusters: ClusterManager, stats: HttpStats) {
    this.config = config;
    this.routes = routes;
    this.clusters = clusters;
    this.stats = stats;
    this.streamIdle = config.streamIdleTimeoutMs > 0 ? new IdleSweep(config.streamIdleTimeoutMs) : undefined;
  }

  /** Adds lifecycle hooks run for every stream of this manager, after those added before. */
  addHooks(hooks: StreamHooks): void {
    this.hooks.push(hooks);
  }

  /** Takes a new downstream connection; `initial` holds bytes already read from it. */
  handle(socket: net.Socket, initial: Buffer): void {
    const codec = this.config.codec;
    const isH2 = codec === 'HTTP2' || (codec === 'AUTO' && startsWithPreface(initial));
    if (isH2) {
      this.handleH2(socket, initial);
      return;
    }
    this.h1.add(new H1ServerConnection(socket, this, initial));
  }

  private handleH2(socket: net.Socket, initial: Buffer): void {
    if (!this.h2server) {
      this.h2server = http2.createServer({
        // A header list is capped as Envoy's max_request_headers_kb (60 KiB) and max_headers_count
        // (100, plus the pseudo-headers); a longer one (or a CONTINUATION flood) resets the stream.
        settings: { maxConcurrentStreams: 1000, initialWindowSize: 1 << 20, maxHeaderListSize: 60 * 1024 },
        maxHeaderListPairs: 104,
        maxSessionMemory: 64,
      });
      this.h2server.on('session', (session: http2.ServerHttp2Session) => {
        this.stats.cxTotal++;
        this.stats.cxActive++;
        this.h2Sessions.add(session);
        try {
          session.setLocalWindowSize(16 * 1024 * 1024);
        } catch {
          // session already gone
        }
        // idle_timeout (no open stream for that long) and max_connection_duration end the session with GOAWAY.
        const cfg = this.config;
        const idle =
          cfg.idleTimeoutMs > 0
            ? new SessionIdle(cfg.idleTimeoutMs, () => {
                this.stats.cxIdleTimeout++;
                session.close();
              })
            : undefined;
        if (idle) IDLE.set(session, idle);
        const lifetime =
          cfg.maxConnectionDurationMs > 0
            ? setTimeout(() => {
                this.stats.cxMaxDurationReached++;
                session.close();
              }, cfg.maxConnectionDurationMs).unref()
            : undefined;
        session.on('close', () => {
          if (lifetime) clearTimeout(lifetime);
          idle?.stop();
          this.stats.cxActive--;
          this.h2Sessions.delete(session);
        });
        session.on('error', () => {});
        if (this.draining) session.close();
      });
      this.h2server.on('stream', (stream, headers, flags) => {
        this.watchPrematureResets(stream);
        const idle = stream.session ? IDLE.get(stream.session) : undefined;
        idle?.streamOpened();
        new H2ServerStream(this, stream, headers, flags, this.streamIdle, idle);
      });
    }
    if (initial.length > 0) socket.unshift(initial);
    this.h2server.emit('connection', socket);
  }

  /**
   * HTTP/2 rapid reset (CVE-2023-44487), as Envoy guards against it: a client that opened at least
   * 100 streams and reset half of them or more before their response was done loses the connection
   * (GOAWAY ENHANCE_YOUR_CALM; downstream_rq_too_many_premature_resets).
   */
  private watchPrematureResets(stream: http2.ServerHttp2Stream): void {
    const session = stream.session;
    if (!session) return;
    let counts = PREMATURE.get(session);
    if (!counts) {
      counts = { streams: 0, resets: 0 };
      PREMATURE.set(session, counts);
    }
    const seen = counts;
    seen.streams++;
    stream.once('aborted', () => {
      seen.resets++;
      if (seen.streams >= 100 && seen.resets * 2 >= seen.streams && !session.destroyed) {
        this.stats.rqTooManyPrematureResets++;
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
    });
  }

  /** Called by a closing HTTP/1.1 connection. */
  connectionClosed(conn: H1ServerConnection): void {
    this.h1.delete(conn);
  }

  /** Active downstream connections (HTTP/1.1 + HTTP/2 sessions). */
  get connections(): number {
    return this.h1.size + this.h2Sessions.size;
  }

  /** Stops keep-alive: idle HTTP/1.1 connections close, HTTP/2 sessions get GOAWAY; requests finish. */
  drain(): void {
    this.draining = true;
    for (const c of this.h1) c.drain();
    for (const s of this.h2Sessions) s.close();
  }

  /**
   * The listener's config was replaced: every response from now on carries `connection: close`,
   * HTTP/2 sessions get GOAWAY and close when their streams end, and idle plaintext HTTP/1.1
   * connections go to `moveIdle` (the new config serves their next request): closing them would
   * reset a request a client sends at that instant. Idle TLS ones close (their handshake was
   * made under the old config).
   */
  drainReplaced(moveIdle: (socket: net.Socket) => void): void {
    this.draining = true;
    for (const s of this.h2Sessions) s.close();
    for (const c of [...this.h1]) {
      const socket = c.socket instanceof TLSSocket ? undefined : c.release();
      if (socket) moveIdle(socket);
      else c.drain();
    }
  }

  /** Destroys every connection now. */
  destroy(): void {
    for (const c of this.h1) c.socket.destroy();
    for (const s of this.h2Sessions) s.destroy();
  }
}
