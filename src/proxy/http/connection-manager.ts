// The HTTP connection manager of one filter chain: picks the codec, owns its connections, drains them.
// Each request becomes an HttpStream (stream/http-stream.ts) whatever the codec.
import type net from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { IdleSweep } from '../common/idle-sweep.ts';
import { SessionIdle } from '../common/session-idle.ts';
import { keepShape } from '../common/shape-anchor.ts';
import type { HcmConfig } from './connection-manager-config.ts';
import { H1ServerConnection } from './h1/server-connection.ts';
import { startsWithPreface } from './h2/preface.ts';
import type { RequestCheck } from './h2/request-headers.ts';
import { H2ServerSession, type ServerSessionOwner } from './h2/server-session.ts';
import { H2ServerStream } from './h2/server-stream.ts';
import type { H2Stream, H2StreamHandler } from './h2/stream.ts';
import type { HttpStats } from './http-stats.ts';
import type { RouteTable } from './router/route-table.ts';
import type { StreamHooks, StreamManager } from './stream/stream-api.ts';

/** idle_timeout and max_connection_duration of an HTTP/2 session (each undefined when off). */
interface SessionTimers {
  idle: SessionIdle | undefined;
  lifetime: NodeJS.Timeout | undefined;
}

/** Where an HCM finds its routes: an RDS subscription (live) or the inline table. */
export type RouteProvider = () => RouteTable | undefined;

export class HttpConnectionManager implements StreamManager, ServerSessionOwner {
  readonly config: HcmConfig;
  readonly routes: RouteProvider;
  readonly clusters: ClusterManager;
  readonly stats: HttpStats;
  draining = false;
  /** Observers of every request's lifecycle (telemetry, hardening); see stream/stream-api.ts. */
  readonly hooks: StreamHooks[] = [];
  private readonly h1 = new Set<H1ServerConnection>();
  private readonly h2Sessions = new Map<H2ServerSession, SessionTimers>();
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
    this.stats.cxTotal++;
    this.stats.cxActive++;
    const session = new H2ServerSession(socket, this);
    // idle_timeout (no open stream for that long) and max_connection_duration end the session with GOAWAY.
    const cfg = this.config;
    const idle =
      cfg.idleTimeoutMs > 0
        ? new SessionIdle(cfg.idleTimeoutMs, () => {
            this.stats.cxIdleTimeout++;
            session.close();
          })
        : undefined;
    const lifetime =
      cfg.maxConnectionDurationMs > 0
        ? setTimeout(() => {
            this.stats.cxMaxDurationReached++;
            session.close();
          }, cfg.maxConnectionDurationMs).unref()
        : undefined;
    this.h2Sessions.set(session, { idle, lifetime });
    if (initial.length > 0) session.receive(initial);
    if (this.draining) session.close();
  }

  openStream(
    session: H2ServerSession,
    stream: H2Stream,
    headers: string[],
    endStream: boolean,
    check: RequestCheck,
    tooLarge: boolean,
  ): H2StreamHandler {
    const idle = this.h2Sessions.get(session)?.idle;
    idle?.streamOpened();
    return new H2ServerStream(this, stream, headers, endStream, check, tooLarge, this.streamIdle, idle);
  }

  streamClosed(_session: H2ServerSession, stream: H2Stream): void {
    (stream.handler as Partial<H2ServerStream>).closed?.();
    // Its codec, stream, router and upstream attempt keep the HTTP/2 path's hidden classes alive while no client is connected.
    keepShape('h2-server-stream', stream);
  }

  tooManyResets(): void {
    this.stats.rqTooManyPrematureResets++;
  }

  sessionClosed(session: H2ServerSession): void {
    session.release();
    keepShape('h2-server-session', session);
    const timers = this.h2Sessions.get(session);
    if (timers === undefined) return;
    if (timers.lifetime) clearTimeout(timers.lifetime);
    timers.idle?.stop();
    this.stats.cxActive--;
    this.h2Sessions.delete(session);
  }

  /** Called by a closing HTTP/1.1 connection. */
  connectionClosed(conn: H1ServerConnection): void {
    this.h1.delete(conn);
    // Its stream, router and socket keep the request path's hidden classes alive while no client is connected.
    keepShape('h1-server-connection', conn);
  }

  /** Active downstream connections (HTTP/1.1 + HTTP/2 sessions). */
  get connections(): number {
    return this.h1.size + this.h2Sessions.size;
  }

  /** Stops keep-alive: idle HTTP/1.1 connections close, HTTP/2 sessions get GOAWAY; requests finish. */
  drain(): void {
    this.draining = true;
    for (const c of this.h1) c.drain();
    for (const s of this.h2Sessions.keys()) s.close();
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
    for (const s of this.h2Sessions.keys()) s.close();
    for (const c of [...this.h1]) {
      const socket = c.socket instanceof TLSSocket ? undefined : c.release();
      if (socket) moveIdle(socket);
      else c.drain();
    }
  }

  /** Destroys every connection now. */
  destroy(): void {
    for (const c of this.h1) c.socket.destroy();
    for (const s of this.h2Sessions.keys()) s.destroy();
  }
}
