// The `node.metadata` keys a weft sidecar sends on its ADS stream and the control plane reads (the contract between the two processes).

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
  /** The app port's name (`--app-port-name`), as a Kubernetes container port's; Linkerd Servers may name it. */
  appPortName: 'WEFT_APP_PORT_NAME',
  /** The sidecar's inbound port (`--inbound-port`), registered as the workload's endpoint port. */
  inboundPort: 'WEFT_INBOUND_PORT',
  /** The sidecar's outbound port (`--outbound-port`). */
  outboundPort: 'WEFT_OUTBOUND_PORT',
  /** "sidecar" or "gateway" (`weft gateway`). */
  role: 'WEFT_ROLE',
  /** The proxy's admin port (`--admin-port`), where `/stats/prometheus` is served. */
  adminPort: 'WEFT_ADMIN_PORT',
  /**
   * The proxy's stats port (`--stats-port`): admin's read-only endpoints on the host address over
   * mutual TLS, for the control plane only. Absent on a one-host mesh (admin on loopback serves).
   */
  statsPort: 'WEFT_STATS_PORT',
  /**
   * Gateways only: the service ports a `weft gateway` serves and the local ports it binds for
   * them, `SERVICE_PORT=LOCAL_PORT/PROTOCOL` comma-separated (`80=8080/http,443=8443/https`).
   */
  gatewayPorts: 'WEFT_GATEWAY_PORTS',
} as const;
