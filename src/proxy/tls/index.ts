// The proxy's TLS unit: Envoy's TLS transport sockets (DownstreamTlsContext, UpstreamTlsContext) on Node's `tls`.
//
// What it does, in the order a config meets it:
//
// 1. Compile (pure data, NACK on what weft cannot honour) — tls-config.ts:
//    `compileDownstreamTransportSocket(chain.transportSocket, where)` → DownstreamTlsConfig,
//    `compileUpstreamTransportSocket(cluster.transportSocket, where)` → UpstreamTlsConfig,
//    `compileTransportSocketMatches(cluster.transportSocketMatches, where)` + `selectUpstreamTls`.
//    Certificates: SDS secret names (`tls_certificate_sds_secret_configs`,
//    `validation_context_sds_secret_config`, `combined_validation_context`) or data sources
//    (`inline_string`, `inline_bytes`, `filename`, read at compile time); `system_root_certs`;
//    `match_typed_subject_alt_names`; `tls_params` (versions, cipher suites, curves); ALPN; SNI.
// 2. Secrets — secrets.ts: a SecretStore per proxy process. `followIdentity(store, identity)`
//    serves Istio's `default` (workload chain + key) and `ROOTCA` (trust bundle) from a
//    WorkloadIdentity; anything else may `store.set(name, secret)` (e.g. a gateway's own
//    certificate). Before accepting a config, check `missingSecrets()` (NACK with
//    TlsSecretMissingError otherwise).
// 3. Run — downstream.ts: `new DownstreamTls(config, store, stats, where, onSecure).accept(socket,
//    initialBytes)` terminates TLS and hands the TLSSocket on (`readFirstBytes` for the HTTP codec);
//    upstream.ts: `new UpstreamTls(config, store, stats, where).connect(host, port)` originates it.
//    Rotation: both pick up a changed secret for new handshakes; open connections keep theirs.
// 4. Facts for filters — connection-facts.ts: `tlsConnectionFacts(socket)` gives the verified peer
//    principal and the SNI (what RBAC's `authenticated.principal_name` and
//    `requested_server_name` read).
// 5. Stats — tls-stats.ts: Envoy's `ssl.*` counters per listener address or cluster.
export { type TlsConnectionFacts, tlsConnectionFacts } from './connection-facts.ts';
export { DownstreamTls, readFirstBytes } from './downstream.ts';
export {
  followIdentity,
  ROOT_CA_SECRET,
  SecretStore,
  storeIdentity,
  type TlsSecret,
  WORKLOAD_CERT_SECRET,
} from './secrets.ts';
export {
  compileDownstreamTransportSocket,
  compileTransportSocketMatches,
  compileUpstreamTransportSocket,
  type DownstreamTlsConfig,
  selectUpstreamTls,
  type TransportSocketMatchConfig,
  type UpstreamTlsConfig,
} from './tls-config.ts';
export { allTlsStats, type TlsStats, tlsStats } from './tls-stats.ts';
export { connectUpstream, socketReadyEvent, UpstreamTls } from './upstream.ts';
