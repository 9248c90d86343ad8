// Mutual TLS shapes for the generators: Istio's auto mTLS between sidecars, PeerAuthentication on inbound, DestinationRule client TLS.
//
// The certificates are SDS references only: `default` (the workload's chain and key) and `ROOTCA`
// (the trust bundle). A weft proxy resolves both locally from its own workload identity; the
// control plane never holds or sends a workload key (docs/security.md, "Mutual TLS").

import type { EffectiveMtlsMode } from '../../../model/policies.ts';
import type { ClientTlsSettings, Service, Workload } from '../../../model/types.ts';
import type {
  CertificateValidationContext,
  Cluster,
  CommonTlsContext,
  FilterChain,
  Listener,
  ListenerFilter,
  Metadata,
  SdsSecretConfig,
  SubjectAltNameMatcher,
  TransportSocket,
} from '../../../xds/messages/index.ts';
import { jsonToStruct } from '../../../xds/struct.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import { ADS_CONFIG_SOURCE, type GenerateContext } from './common.ts';
import { inboundMtlsMode } from './security.ts';

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const RAW_BUFFER_TRANSPORT_SOCKET = 'envoy.transport_sockets.raw_buffer';
export const DOWNSTREAM_TLS_CONTEXT = CONFIG_TYPE.downstreamTlsContext;
export const UPSTREAM_TLS_CONTEXT = CONFIG_TYPE.upstreamTlsContext;
export const RAW_BUFFER = CONFIG_TYPE.rawBuffer;
export const TLS_INSPECTOR = CONFIG_TYPE.tlsInspector;

/** Istio's SDS names. */
export const WORKLOAD_CERT_SDS = 'default';
export const ROOT_CA_SDS = 'ROOTCA';

/** The endpoint metadata namespace Envoy's transport_socket_matches read. */
export const TRANSPORT_SOCKET_MATCH = 'envoy.transport_socket_match';

/** ALPN a client sidecar offers (Istio's in-mesh values). */
export const MESH_ALPN_CLIENT = ['istio-peer-exchange', 'istio'];
/** ALPN the inbound mTLS chain accepts: Istio's mesh values, then plain HTTP ones. */
export const MESH_ALPN_SERVER = ['istio-peer-exchange', 'istio', 'h2', 'http/1.1'];

/** The tls_inspector listener filter (transport protocol `tls` for a ClientHello). */
export const TLS_INSPECTOR_FILTER: ListenerFilter = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: { '@type': TLS_INSPECTOR },
};

const SDS_DEFAULT: SdsSecretConfig = { name: WORKLOAD_CERT_SDS, sds_config: ADS_CONFIG_SOURCE };
const SDS_ROOTCA: SdsSecretConfig = { name: ROOT_CA_SDS, sds_config: ADS_CONFIG_SOURCE };

/** CommonTlsContext of mesh traffic: TLS 1.3, the workload certificate, the trust bundle, optional SAN checks. */
function meshCommonTlsContext(alpn: readonly string[], sans: readonly string[]): CommonTlsContext {
  return {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_3' },
    tls_certificate_sds_secret_configs: [SDS_DEFAULT],
    combined_validation_context: {
      default_validation_context:
        sans.length > 0
          ? {
              match_typed_subject_alt_names: sans.map((san) => ({
                san_type: 'URI' as const,
                matcher: { exact: san },
              })),
            }
          : {},
      validation_context_sds_secret_config: SDS_ROOTCA,
    },
    alpn_protocols: [...alpn],
  };
}

/**
 * The inbound mTLS transport socket: the workload certificate, a client certificate required and
 * verified against the trust bundle (any identity of the mesh: AuthorizationPolicy decides who).
 */
export function inboundMtlsTransportSocket(): TransportSocket {
  return {
    name: TLS_TRANSPORT_SOCKET,
    typed_config: {
      '@type': DOWNSTREAM_TLS_CONTEXT,
      common_tls_context: meshCommonTlsContext(MESH_ALPN_SERVER, []),
      require_client_certificate: { value: true },
    },
  };
}

/** Istio's SNI for mesh traffic to a cluster: `outbound_.PORT_.SUBSET_.HOST`. */
export function meshSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

/** A client mTLS socket with the workload certificate, verifying the server against `sans` (secure naming). */
function meshUpstreamTransportSocket(sni: string, sans: readonly string[]): TransportSocket {
  return {
    name: TLS_TRANSPORT_SOCKET,
    typed_config: {
      '@type': UPSTREAM_TLS_CONTEXT,
      sni,
      common_tls_context: meshCommonTlsContext(MESH_ALPN_CLIENT, sans),
    },
  };
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` of a workload. */
function spiffeIdOf(trustDomain: string, workload: Pick<Workload, 'namespace' | 'serviceAccount'>): string {
  return `spiffe://${trustDomain}/ns/${workload.namespace}/sa/${workload.serviceAccount}`;
}

/**
 * Istio's secure naming: the identities a client accepts from the servers of `service`, the
 * service accounts its workloads run as plus the service's own `subjectAltNames`, sorted.
 */
export function serviceIdentities(ctx: GenerateContext, service: Service): string[] {
  const td = ctx.snapshot.mesh.trustDomain;
  const ids = new Set<string>();
  for (const w of ctx.snapshot.endpointsByHost.get(service.hostname) ?? []) ids.add(spiffeIdOf(td, w));
  for (const san of service.subjectAltNames) ids.add(san.startsWith('spiffe://') ? san : `spiffe://${san}`);
  return [...ids].sort();
}

/** The port the app of a sidecar workload listens on (what PeerAuthentication's ports name). */
function workloadAppPort(workload: Workload): number | undefined {
  const ports = Object.values(workload.ports);
  return ports.length === 1 ? ports[0] : undefined;
}

/** The inbound mode of a workload's app port (PeerAuthentication, Istio precedence). */
export function workloadMtlsMode(ctx: GenerateContext, workload: Workload): EffectiveMtlsMode {
  const port = workloadAppPort(workload);
  return port === undefined ? 'PERMISSIVE' : inboundMtlsMode(ctx.snapshot, workload, port);
}

/**
 * EDS metadata of an endpoint: `tlsMode: istio` when the workload has a weft sidecar that accepts
 * mTLS on its port (not DISABLE), as Istio labels pods with a sidecar; nothing otherwise.
 */
export function endpointTlsMetadata(ctx: GenerateContext, workload: Workload): Metadata | undefined {
  if (!workload.sidecar || workloadMtlsMode(ctx, workload) === 'DISABLE') return undefined;
  return { filter_metadata: { [TRANSPORT_SOCKET_MATCH]: jsonToStruct({ tlsMode: 'istio' }) } };
}

/** How a DestinationRule's `tls` names server identities: URIs as URI SANs, the rest as DNS names. */
function sanMatchers(names: readonly string[]): SubjectAltNameMatcher[] {
  return names.map((name) => ({
    san_type: name.includes('://') ? ('URI' as const) : ('DNS' as const),
    matcher: { exact: name },
  }));
}

/** Client TLS for a DestinationRule in SIMPLE or MUTUAL mode (the files are on the proxy's host). */
function originationTransportSocket(tls: ClientTlsSettings, host: string): TransportSocket {
  const sni = tls.sni ?? host;
  const validation: CertificateValidationContext = tls.caCertificates
    ? { trusted_ca: { filename: tls.caCertificates } }
    : { system_root_certs: {} };
  // Istio verifies the server: its subjectAltNames, else the SNI (VERIFY_CERTIFICATE_AT_CLIENT).
  validation.match_typed_subject_alt_names = sanMatchers(
    tls.subjectAltNames && tls.subjectAltNames.length > 0 ? tls.subjectAltNames : [sni],
  );
  const common: CommonTlsContext = { validation_context: validation };
  if (tls.mode === 'MUTUAL' && tls.clientCertificate && tls.privateKey)
    common.tls_certificates = [
      { certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } },
    ];
  return {
    name: TLS_TRANSPORT_SOCKET,
    typed_config: { '@type': UPSTREAM_TLS_CONTEXT, sni, common_tls_context: common },
  };
}

/**
 * The transport fields of an outbound cluster, as Istio's cluster builder makes them:
 * - no DestinationRule TLS: auto mTLS, `transport_socket_matches` choosing mTLS for endpoints
 *   labelled `tlsMode: istio` (weft sidecars, see `endpointTlsMetadata`) and plaintext otherwise;
 * - `ISTIO_MUTUAL`: mTLS to every endpoint; `DISABLE`: plaintext;
 * - `SIMPLE` / `MUTUAL`: TLS origination with the rule's certificates (calls leaving the mesh).
 * Proxyless gRPC clients get theirs from generate/grpc-tls.ts.
 */
export function outboundClusterTransport(
  ctx: GenerateContext,
  service: Service,
  port: number,
  subset: string | undefined,
  tls: ClientTlsSettings | undefined,
  where: string,
): Pick<Cluster, 'transport_socket' | 'transport_socket_matches'> {
  if (tls?.mode === 'DISABLE') return {};
  if (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') {
    if (tls.mode === 'MUTUAL' && !(tls.clientCertificate && tls.privateKey))
      ctx.warn(
        `${where}/mutual-files`,
        `${where}: tls.mode MUTUAL without clientCertificate and privateKey; the client presents no certificate`,
      );
    return { transport_socket: originationTransportSocket(tls, service.hostname) };
  }
  const sans =
    tls?.subjectAltNames && tls.subjectAltNames.length > 0
      ? [...tls.subjectAltNames]
      : serviceIdentities(ctx, service);
  const mtls = meshUpstreamTransportSocket(tls?.sni ?? meshSni(port, subset, service.hostname), sans);
  if (tls?.mode === 'ISTIO_MUTUAL') return { transport_socket: mtls };
  return {
    transport_socket_matches: [
      { name: 'tlsMode-istio', match: jsonToStruct({ tlsMode: 'istio' }), transport_socket: mtls },
      {
        name: 'tlsMode-disabled',
        match: jsonToStruct({}),
        transport_socket: { name: RAW_BUFFER_TRANSPORT_SOCKET, typed_config: { '@type': RAW_BUFFER } },
      },
    ],
  };
}

/**
 * Turns a sidecar's plaintext inbound listener into the one its PeerAuthentication mode asks for
 * (Istio's shapes): `STRICT` keeps only an mTLS chain (`transport_protocol: tls`, client
 * certificate required), so plaintext matches no chain and is closed; `PERMISSIVE` puts the mTLS
 * chain before the plaintext ones on the same port (the tls_inspector tells them apart);
 * `DISABLE` leaves the listener plaintext. The mTLS chain runs the same filters as the
 * plaintext one (HTTP connection manager with the security filters, or tcp_proxy).
 */
export function withInboundMtls(listener: Listener, mode: EffectiveMtlsMode): Listener {
  if (mode === 'DISABLE' || !('filter_chains' in listener)) return listener;
  const chains = listener.filter_chains;
  const terminal = chains[0]?.filters;
  if (!terminal) return listener;
  const mtlsChain: FilterChain = {
    name: 'inbound-mtls',
    filter_chain_match: { transport_protocol: 'tls' },
    transport_socket: inboundMtlsTransportSocket(),
    filters: terminal,
  };
  const inspectors = listener.listener_filters ?? [];
  const out = { ...listener, listener_filters: [TLS_INSPECTOR_FILTER, ...inspectors] };
  const byAlpn = inspectors.length > 0 ? alpnChains(listener, terminal) : [];
  if (mode === 'STRICT') {
    out.filter_chains = [...byAlpn, mtlsChain];
    delete out.default_filter_chain;
    return out;
  }
  // PERMISSIVE. An opaque-TCP listener has one catch-all chain: it becomes the default (plaintext) chain.
  if (inspectors.length === 0 && chains.length === 1 && !chains[0].filter_chain_match) {
    out.filter_chains = [mtlsChain];
    out.default_filter_chain = chains[0];
    return out;
  }
  out.filter_chains = [...byAlpn, mtlsChain, ...chains];
  return out;
}

/** ALPN a client sidecar offers first for HTTP (Istio's `istio.alpn` override): the protocol that follows. */
export const MESH_ALPN_HTTP = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];

/**
 * On a detected (HTTP-sniffing) port with an opaque-TCP default, the mTLS chains a client
 * sidecar picks by the ALPN it offers, as Istio's inbound listener has them: `istio-http/*` and
 * `istio-h2` to the HTTP connection manager, `istio-peer-exchange`/`istio` (a TCP connection) to
 * tcp_proxy at once, so a server that speaks first is reached with no wait on this side. Other
 * TLS clients (no mesh ALPN) get the plain mTLS chain, where the decrypted bytes are detected.
 */
function alpnChains(listener: Listener, http: FilterChain['filters']): FilterChain[] {
  const tcp = 'default_filter_chain' in listener ? listener.default_filter_chain?.filters : undefined;
  if (!tcp) return [];
  const chain = (name: string, alpn: string[], filters: FilterChain['filters']): FilterChain => ({
    name,
    filter_chain_match: { transport_protocol: 'tls', application_protocols: alpn },
    transport_socket: inboundMtlsTransportSocket(),
    filters,
  });
  return [chain('inbound-mtls-http', MESH_ALPN_HTTP, http), chain('inbound-mtls-tcp', MESH_ALPN_CLIENT, tcp)];
}
