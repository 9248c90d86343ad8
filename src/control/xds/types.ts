// Contracts between the ADS server, the control plane that feeds it, and the proxies it serves.
import type { MeshSnapshot } from '../../model/types.ts';

/** Envoy v3 type URLs weft serves. */
export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/**
 * Keys of the `node.metadata` Struct a weft sidecar sends on its ADS stream. A node without
 * `WEFT_SIDECAR` is a client only (e.g. a proxyless gRPC client) and is not registered.
 */
export const NODE_METADATA = {
  /** "true" for a weft sidecar or gateway that serves a workload. */
  sidecar: 'WEFT_SIDECAR',
  /** Namespace of the workload (Istio's key). */
  namespace: 'NAMESPACE',
  /** Service account of the workload (Istio's key). */
  serviceAccount: 'SERVICE_ACCOUNT',
  /** Workload labels, a Struct of strings (Istio's key); includes app= and version=. */
  labels: 'LABELS',
  /** IP addresses of the workload, a list of strings (Istio's key). */
  instanceIps: 'INSTANCE_IPS',
  /** Service name the sidecar fronts (`--service`). */
  service: 'WEFT_SERVICE',
  /** Service port clients use (`--service-port`, default 80). */
  servicePort: 'WEFT_SERVICE_PORT',
  /** Protocol of the service port (HTTP, HTTP2, GRPC, TCP); default HTTP. */
  serviceProtocol: 'WEFT_SERVICE_PROTOCOL',
  /** The app's own port (`--app-port`). */
  appPort: 'WEFT_APP_PORT',
  /** The sidecar's inbound port (`--inbound-port`), registered as the workload's endpoint port. */
  inboundPort: 'WEFT_INBOUND_PORT',
  /** The sidecar's outbound port (`--outbound-port`). */
  outboundPort: 'WEFT_OUTBOUND_PORT',
  /** "sidecar" or "gateway" (`weft gateway`). */
  role: 'WEFT_ROLE',
  /**
   * Gateways only: the service ports a `weft gateway` serves and the local ports it binds for
   * them, `SERVICE_PORT=LOCAL_PORT/PROTOCOL` comma-separated (`80=8080/http,443=8443/https`).
   */
  gatewayPorts: 'WEFT_GATEWAY_PORTS',
} as const;

/** What `weft proxy-status` shows for one connected xDS client. */
export interface ProxyStatus {
  /** The node id the client sent. */
  nodeId: string;
  /** Cluster (service) the node declared, if any. */
  cluster: string;
  /** Peer address of the stream. */
  peer: string;
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
