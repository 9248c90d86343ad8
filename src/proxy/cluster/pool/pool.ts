// The connection-pool shape shared by the HTTP/1.1 and HTTP/2 pools of one upstream host.

/** A pool of connections to one host. */
export interface UpstreamPool {
  /** `http1` or `http2`. */
  readonly protocol: 'http1' | 'http2';
  /** Connections open now (for /clusters and stats). */
  readonly connections: number;
  /** Closes idle connections and refuses new work; busy connections close when done. */
  drain(): void;
  /** Destroys every connection now. */
  destroy(): void;
}
