// HTTP/1.1 keep-alive pool for one upstream host: reuses idle connections, opens new ones on demand.
import type { UpstreamTls } from '../../tls/upstream.ts';
import type { ClusterStats } from '../stats.ts';
import { H1Connection, type H1ConnectionOwner, type H1ResponseHandler } from './h1-connection.ts';
import type { UpstreamPool } from './pool.ts';

/** Settings of one host's pool, from the Cluster. */
export interface H1PoolConfig {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** Idle connections are closed after this many ms. */
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** circuit_breakers max_connections, counted over the whole cluster (`stats.cxActive`). */
  maxConnections: number;
  /** circuit_breakers max_pending_requests: requests waiting for a connection, per host. */
  maxPendingRequests: number;
  /** TLS to the host (the cluster's transport socket); absent: plaintext. */
  transport?: UpstreamTls;
}

/** What acquire() did with a request. */
export type AcquireOutcome = 'assigned' | 'pending' | 'overflow';

interface Waiter {
  handler: H1ResponseHandler;
  headRequest: boolean;
  decode: boolean;
  /** The request asks for an upgrade: it gets a fresh connection that can become a tunnel. */
  tunnel: boolean;
}

export class H1Pool implements UpstreamPool, H1ConnectionOwner {
  readonly protocol = 'http1';
  private readonly config: H1PoolConfig;
  private readonly stats: ClusterStats;
  /** Idle connections, most recently used last (LIFO keeps few sockets warm). */
  private readonly idle: H1Connection[] = [];
  private open = 0;
  private draining = false;
  private sweeper: NodeJS.Timeout | undefined;
  /** Requests waiting for a connection because max_connections is reached. */
  private readonly pending: Waiter[] = [];

  constructor(config: H1PoolConfig, stats: ClusterStats) {
    this.config = config;
    this.stats = stats;
  }

  get connections(): number {
    return this.open;
  }

  /**
   * Gives `handler` a connection: an idle one at once (handler.onUpstreamReady is called
   * synchronously), or a new one when it has connected. When the cluster has max_connections
   * open, the request waits (`pending`) for one to be released, or overflows when
   * max_pending_requests are already waiting (Envoy's circuit breakers).
   */
  acquire(handler: H1ResponseHandler, headRequest: boolean, decode: boolean, tunnel = false): AcquireOutcome {
    while (!tunnel && this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.state !== 'idle' || conn.socket.destroyed) continue;
      conn.attach(handler, headRequest, decode);
      return 'assigned';
    }
    if (this.stats.cxActive >= this.config.maxConnections) {
      if (this.pending.length >= this.config.maxPendingRequests) return 'overflow';
      this.pending.push({ handler, headRequest, decode, tunnel });
      return 'pending';
    }
    this.connect({ handler, headRequest, decode, tunnel });
    return 'assigned';
  }

  private connect(w: Waiter): void {
    const conn = new H1Connection(
      this.config.host,
      this.config.port,
      this.config.connectTimeoutMs,
      this,
      w.tunnel ? 'stream' : 'shared-buffer',
      this.config.transport,
    );
    this.open++;
    this.stats.cxTotal++;
    this.stats.cxActive++;
    conn.attach(w.handler, w.headRequest, w.decode);
  }

  /** Forgets a waiting request (its client went away or it timed out). */
  cancel(handler: H1ResponseHandler): void {
    const i = this.pending.findIndex((w) => w.handler === handler);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** The handler is done with `conn`; it is kept when `reuse` and the connection allows it. */
  release(conn: H1Connection, reuse: boolean): void {
    conn.detach();
    const max = this.config.maxRequestsPerConnection;
    if (!reuse || this.draining || !conn.reusable || (max > 0 && conn.served >= max)) {
      conn.destroy();
      return;
    }
    conn.state = 'idle';
    // performance.now(): Date.now() is a call into V8's runtime from optimized code.
    conn.idleSince = performance.now();
    if (this.pending[0]?.tunnel) {
      // A waiting upgrade needs a fresh connection: free this slot for it.
      conn.destroy();
      return;
    }
    const waiter = this.pending.shift();
    if (waiter) {
      conn.attach(waiter.handler, waiter.headRequest, waiter.decode);
      return;
    }
    this.idle.push(conn);
    if (!this.sweeper) {
      this.sweeper = setInterval(this.sweep, Math.max(250, Math.min(this.config.idleTimeoutMs, 5000)));
      this.sweeper.unref();
    }
  }

  connectionClosed(conn: H1Connection): void {
    this.open--;
    this.stats.cxActive--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // A slot opened: the first waiting request gets a new connection.
    if (this.pending.length > 0 && !this.draining && this.stats.cxActive < this.config.maxConnections)
      this.connect(this.pending.shift()!);
  }

  private readonly sweep = (): void => {
    const cutoff = performance.now() - this.config.idleTimeoutMs;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (this.idle[i].idleSince < cutoff) this.idle[i].destroy();
    }
    if (this.idle.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };

  drain(): void {
    this.draining = true;
    for (const conn of [...this.idle]) conn.destroy();
    this.idle.length = 0;
  }

  destroy(): void {
    this.drain();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
