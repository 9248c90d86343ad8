// Real kinds of the mesh dialects that weft does not implement, with what to do instead (so they are "not supported", not "unknown").

/** Kind → note. A document of one of these kinds is refused as not supported by weft. */
export const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = {
  // Istio
  EnvoyFilter: 'weft is not Envoy: patches of generated Envoy config have nothing to apply to',
  WasmPlugin: 'Wasm extensions are not implemented',
  ProxyConfig: 'proxy settings are weft proxy flags',
  WorkloadGroup: 'declare workloads with WorkloadEntry or weft proxy --service',
  // Gateway API
  UDPRoute: 'weft proxies TCP, HTTP and gRPC only',
  BackendTLSPolicy: 'TLS to backends is mutual TLS in the mesh, or a DestinationRule trafficPolicy.tls',
  BackendLBPolicy: 'set session persistence with a DestinationRule consistentHash',
  ListenerSet: 'put the listeners in the Gateway itself',
  XListenerSet: 'put the listeners in the Gateway itself',
  // Linkerd
  ExternalWorkload: 'declare workloads with WorkloadEntry',
  EgressNetwork: 'use ServiceEntry and MeshConfig outboundTrafficPolicy',
  // SMI
  IdentityBinding: 'name the ServiceAccounts in TrafficTarget sources',
};

/**
 * `apiVersion-group/Kind` of another dialect's kind that has the name of one weft reads → note.
 * Such a document is refused as not supported, not as a wrong apiVersion of weft's kind.
 */
export const UNSUPPORTED_GROUP_KINDS: Readonly<Record<string, string>> = {};
