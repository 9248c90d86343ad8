// Mutual TLS for proxyless gRPC (gRFC A29): certificate-provider TLS contexts on their clusters and server listeners.
//
// gRPC reads certificates from the provider instances its bootstrap defines, never from SDS: weft
// names the instance `default` (`weft proxyless` writes it, file_watcher over files it rotates),
// with Istio's certificate names `default` (the workload chain and key) and `ROOTCA` (the trust
// bundle). gRPC refuses `tls_params`, SDS and typed SAN matchers in these contexts, so none is sent.

import type { EffectiveMtlsMode } from '../../../model/policies.ts';
import type { ClientTlsSettings, Service, ServicePort } from '../../../model/types.ts';
import type {
  CertificateValidationContext,
  Cluster,
  CommonTlsContext,
  TransportSocket,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { GenerateContext } from './common.ts';
import { inboundMtlsMode } from './security.ts';

/** The certificate provider instance a proxyless app's bootstrap must define (`weft proxyless` does). */
export const GRPC_CERT_PROVIDER = 'default';

const IDENTITY = { instance_name: GRPC_CERT_PROVIDER, certificate_name: 'default' };
const ROOTS = { instance_name: GRPC_CERT_PROVIDER, certificate_name: 'ROOTCA' };

function commonTlsContext(sans: readonly string[] | undefined): CommonTlsContext {
  const validation: CertificateValidationContext = { ca_certificate_provider_instance: ROOTS };
  if (sans && sans.length > 0) validation.match_subject_alt_names = sans.map((exact) => ({ exact }));
  return { tls_certificate_provider_instance: IDENTITY, validation_context: validation };
}

/**
 * The mode in force for a service's workloads, as far as configuration tells without its
 * endpoints: the PeerAuthentication of the mesh, the service's namespace, or one whose selector
 * the service's own selector carries (and its port-level mode for the target port).
 */
function serviceMtlsMode(ctx: GenerateContext, service: Service, port: ServicePort): EffectiveMtlsMode {
  const target = { namespace: service.namespace, labels: service.selector ?? {}, serviceAccount: '' };
  return inboundMtlsMode(ctx.snapshot, target, port.targetPort ?? port.number);
}

/**
 * The client TLS of a proxyless gRPC client's cluster: mTLS with the workload certificate,
 * verifying the server's SPIFFE ID (`sans`), when the DestinationRule says `ISTIO_MUTUAL`, or
 * when it says nothing and the service is in the mesh (MESH_INTERNAL) with its workloads STRICT
 * (they accept nothing else). Other
 * client TLS modes cannot be given to gRPC (no file certificates): a warning, and plaintext.
 */
export function grpcClusterTransport(
  ctx: GenerateContext,
  service: Service,
  port: ServicePort,
  tls: ClientTlsSettings | undefined,
  sans: readonly string[],
  where: string,
): Pick<Cluster, 'transport_socket'> {
  if (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') {
    ctx.warn(
      `${where}/grpc-tls`,
      `${where}: proxyless gRPC clients cannot originate TLS with files (${tls.mode}); their traffic is plaintext`,
    );
    return {};
  }
  if (tls?.mode === 'DISABLE') return {};
  const strict = service.location === 'MESH_INTERNAL' && serviceMtlsMode(ctx, service, port) === 'STRICT';
  if (tls?.mode !== 'ISTIO_MUTUAL' && !strict) return {};
  const names = tls?.subjectAltNames && tls.subjectAltNames.length > 0 ? tls.subjectAltNames : sans;
  return {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': CONFIG_TYPE.upstreamTlsContext, common_tls_context: commonTlsContext(names) },
    },
  };
}

/**
 * The transport socket of a proxyless gRPC server listening on `port`: under STRICT, TLS with
 * the workload certificate and a client certificate required and verified against the trust
 * bundle. gRPC cannot tell TLS from plaintext on one port (its filter chains match no transport
 * protocol), so PERMISSIVE and DISABLE serve plaintext, as Istio's proxyless servers do.
 */
export function grpcServerTransportSocket(ctx: GenerateContext, port: number): TransportSocket | undefined {
  if (inboundMtlsMode(ctx.snapshot, ctx.proxy, port) !== 'STRICT') return undefined;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': CONFIG_TYPE.downstreamTlsContext,
      common_tls_context: commonTlsContext(undefined),
      require_client_certificate: { value: true },
    },
  };
}
