// One upstream endpoint of a cluster, with the live state the load balancers and pools read.
import type { UpstreamTls } from '../tls/upstream.ts';
import type { UpstreamPool } from './pool/pool.ts';

/** Health as the control plane (EDS) or an active health check sees it. */
export type HostHealth = 'healthy' | 'unhealthy' | 'draining' | 'degraded';

export class Host {
  /** `ip:port`, the key that keeps a host's state across EDS updates. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** load_balancing_weight (default 1). */
  weight: number;
  /** The priority level of its locality (0 is the best). */
  priority = 0;
  /** Health from EDS `health_status`. */
  edsHealth: HostHealth = 'healthy';
  /** Health from active health checks (healthy until a check says otherwise). */
  checkHealth: 'healthy' | 'unhealthy' = 'healthy';
  /** Requests in flight to this host (least-request reads it). */
  active = 0;
  /** Connections pooled for this host, created on first use. */
  pool: UpstreamPool | undefined;
  /** TLS to this host (the cluster's transport socket for its metadata); undefined: plaintext. */
  transport: UpstreamTls | undefined;
  /** Outlier detection: ejected until this time (ms since epoch; 0 = not ejected). */
  ejectedUntil = 0;
  /** Times this host has been ejected (the ejection time grows with it). */
  ejections = 0;
  /** Consecutive 5xx / gateway errors / local-origin failures seen by outlier detection. */
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  /** Counters shown by /clusters. */
  requests = 0;
  failures = 0;

  constructor(address: string, port: number, weight: number) {
    this.address = address;
    this.port = port;
    this.key = `${address}:${port}`;
    this.weight = weight;
  }

  /** Usable for new requests. */
  get healthy(): boolean {
    return (
      (this.edsHealth === 'healthy' || this.edsHealth === 'degraded') &&
      this.checkHealth === 'healthy' &&
      this.ejectedUntil === 0
    );
  }
}
