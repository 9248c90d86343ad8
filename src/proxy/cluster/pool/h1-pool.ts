// HTTP/1.1 keep-alive pool for one upstream host: reuses idle connections, opens new ones on demand.
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

  constructor(config: H1PoolConfig, stats: ClusterStats) {
    this.config = config;
    this.stats = stats;
  }

  get connections(): number {
    return this.open;
  }

  /**
   * Gives `handler` a connection: an idle one at once (handler.onUpstreamReady is called
   * synchronously), or a new one when it has connected.
   */
  acquire(handler: H1ResponseHandler, headRequest: boolean, decode: boolean): H1Connection {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.state !== 'idle' || conn.socket.destroyed) continue;
      conn.attach(handler, headRequest, decode);
      return conn;
    }
    const conn = new H1Connection(this.config.host, this.config.port, this.config.connectTimeoutMs, this);
    this.open++;
    this.stats.cxTotal++;
    this.stats.cxActive++;
    conn.attach(handler, headRequest, decode);
    return conn;
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
    conn.idleSince = Date.now();
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
  }

  private readonly sweep = (): void => {
    const cutoff = Date.now() - this.config.idleTimeoutMs;
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
