// Contracts between the ADS server and the control plane that feeds it, and what `weft proxy-status` reads.
import type { MeshSnapshot } from '../../model/types.ts';

/** What `weft proxy-status` shows for one connected xDS client. */
export interface ProxyStatus {
  /** The node id the client sent. */
  nodeId: string;
  /** Cluster (service) the node declared, if any. */
  cluster: string;
  /** Peer address of the stream. */
  peer: string;
  /** The proxy's admin port (on its own host's loopback), when its node metadata says it. */
  adminPort?: number;
  /** `sotw` or `delta`. */
  protocol: 'sotw' | 'delta';
  connectedAt: string;
  /** Per type URL: what was last sent, last ACKed, and the last NACK if the latest push was rejected. */
  types: Record<
    string,
    {
      sent?: string;
      acked?: string;
      nack?: { version: string; message: string; at: string };
      resources: number;
    }
  >;
}

/** The ADS server as the control plane uses it. */
export interface XdsServer {
  /** Binds the gRPC server; resolves to the port actually bound (port 0 picks one). */
  listen(host: string, port: number): Promise<number>;
  /** Binds a plaintext, read-only port (proxyless gRPC clients without TLS); optional. */
  listenPlaintext?(host: string, port: number): Promise<number>;
  /** Hands over a new snapshot; pushes are debounced and only sent to proxies whose resources changed. */
  setSnapshot(snapshot: MeshSnapshot): void;
  status(): ProxyStatus[];
  close(): Promise<void>;
}

/** Body of `GET /api/v1/proxies` (`weft proxy-status`). */
export interface ProxiesResponse {
  /** Version of the control plane that answers (Istio's "PILOT" column). */
  controlPlaneVersion: string;
  proxies: ProxyStatus[];
}

/** Body of `GET /api/v1/debug/push`: what keeping the proxies up to date has cost since start. */
export interface PushStatsResponse {
  /** Resources read and compiled (once per applied revision, plus namespace changes that affect them). */
  compiles: number;
  /** Times the config part of the snapshot was assembled from compiled resources. */
  assemblies: number;
  /** Push rounds (one per debounced batch of snapshots). */
  pushRounds: number;
  /** Push rounds that changed endpoints only and pushed EDS only. */
  edsOnlyRounds: number;
  /** Responses sent. */
  pushes: number;
  /** Generator calls per type URL (one per distinct part key, or per resource name for named subscriptions). */
  generated: Record<string, number>;
}
