// The resource kinds weft accepts: names for the CLI (`vs`, `dr`, ...) and the reader of each kind's spec.
import type { CompiledSpec } from '../model/compiled.ts';
import type { LinkerdAuthorizationPart } from '../model/linkerd-authorization-types.ts';
import type { Check } from './check.ts';
import { readGatewayApiGateway } from './gateway-api/gateway.ts';
import { readGatewayClass } from './gateway-api/gateway-class.ts';
import { readGrpcRoute } from './gateway-api/grpc-route.ts';
import { readHttpRoute } from './gateway-api/http-route.ts';
import { readReferenceGrant } from './gateway-api/reference-grant.ts';
import { readStreamRoute } from './gateway-api/stream-routes.ts';
import { readAuthorizationPolicy } from './istio/authorization-policy.ts';
import type { ResourceContext } from './istio/common.ts';
import { readDestinationRule } from './istio/destination-rule.ts';
import { readIstioGateway } from './istio/gateway.ts';
import { readPeerAuthentication } from './istio/peer-authentication.ts';
import { readRequestAuthentication } from './istio/request-authentication.ts';
import { readServiceEntry } from './istio/service-entry.ts';
import { readSidecar } from './istio/sidecar.ts';
import { readTelemetry } from './istio/telemetry.ts';
import { readVirtualService } from './istio/virtual-service.ts';
import { readWorkloadEntry } from './istio/workload-entry.ts';
import { readMeshTlsAuthentication, readNetworkAuthentication } from './linkerd/authentication.ts';
import { readLinkerdAuthorizationPolicy } from './linkerd/authorization-policy.ts';
import { readHttpLocalRateLimitPolicy } from './linkerd/http-local-rate-limit-policy.ts';
import { readServer } from './linkerd/server.ts';
import { readServerAuthorization } from './linkerd/server-authorization.ts';
import { readServiceProfile } from './linkerd/service-profile.ts';
import { readHttpRouteGroup } from './smi/http-route-group.ts';
import { readTrafficSplit } from './smi/traffic-split.ts';
import { readTrafficTarget } from './smi/traffic-target.ts';
import { readMeshConfig } from './weft/mesh-config.ts';
import { readRateLimit } from './weft/rate-limit.ts';

export type { CompiledSpec };

export interface KindInfo {
  /** The Kind as written in documents, e.g. `VirtualService`. */
  kind: string;
  /** Accepted `apiVersion` values (group/version); the first is the preferred one. */
  apiVersions: string[];
  /** Lower-case plural, e.g. `virtualservices`. */
  plural: string;
  /** Short names, e.g. `vs`. */
  shortNames: string[];
  namespaced: boolean;
}

/** A kind and how to read its spec (issues go to `check`, paths start at `spec`). */
export interface KindDefinition extends KindInfo {
  read(check: Check, spec: unknown, context: ResourceContext): CompiledSpec | undefined;
}

const ISTIO_NETWORKING = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
];

const ISTIO_SECURITY = ['security.istio.io/v1', 'security.istio.io/v1beta1'];

/** Gateway API versions upstream serves (or served: v1alpha2 GRPCRoute, as Linkerd's docs write it); one shape for the fields weft reads. */
const GATEWAY_API = [
  'gateway.networking.k8s.io/v1',
  'gateway.networking.k8s.io/v1beta1',
  'gateway.networking.k8s.io/v1alpha2',
];

/** Linkerd's own HTTPRoute (policy.linkerd.io), the Gateway API shape Linkerd's docs use. */
const LINKERD_HTTPROUTE = [
  'policy.linkerd.io/v1beta3',
  'policy.linkerd.io/v1beta2',
  'policy.linkerd.io/v1beta1',
];

/** Linkerd's authorization kinds (AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication). */
const LINKERD_POLICY = 'policy.linkerd.io/v1alpha1';

function linkerd(part: LinkerdAuthorizationPart): CompiledSpec {
  return { kind: 'LinkerdAuthorization', part };
}

const DEFINITIONS: readonly KindDefinition[] = [
  {
    kind: 'VirtualService',
    apiVersions: ISTIO_NETWORKING,
    plural: 'virtualservices',
    shortNames: ['vs'],
    namespaced: true,
    read: (check, spec, context) => {
      const virtualService = readVirtualService(check, spec, context);
      return virtualService && { kind: 'VirtualService', virtualService };
    },
  },
  {
    kind: 'DestinationRule',
    apiVersions: ISTIO_NETWORKING,
    plural: 'destinationrules',
    shortNames: ['dr'],
    namespaced: true,
    read: (check, spec, context) => {
      const destinationRule = readDestinationRule(check, spec, context);
      return destinationRule && { kind: 'DestinationRule', destinationRule };
    },
  },
  {
    kind: 'ServiceEntry',
    apiVersions: ISTIO_NETWORKING,
    plural: 'serviceentries',
    shortNames: ['se'],
    namespaced: true,
    read: (check, spec, context) => {
      const services = readServiceEntry(check, spec, context);
      return services && { kind: 'ServiceEntry', services };
    },
  },
  {
    kind: 'WorkloadEntry',
    apiVersions: ISTIO_NETWORKING,
    plural: 'workloadentries',
    shortNames: ['we'],
    namespaced: true,
    read: (check, spec, context) => {
      const workload = readWorkloadEntry(check, spec, context);
      return workload && { kind: 'WorkloadEntry', workload };
    },
  },
  {
    kind: 'Sidecar',
    apiVersions: ISTIO_NETWORKING,
    plural: 'sidecars',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const sidecar = readSidecar(check, spec, context);
      return sidecar && { kind: 'Sidecar', sidecar };
    },
  },
  {
    kind: 'PeerAuthentication',
    apiVersions: ISTIO_SECURITY,
    plural: 'peerauthentications',
    shortNames: ['pa'],
    namespaced: true,
    read: (check, spec, context) => {
      const peerAuthentication = readPeerAuthentication(check, spec, context);
      return peerAuthentication && { kind: 'PeerAuthentication', peerAuthentication };
    },
  },
  {
    // Two dialects, as for Gateway: Istio's, and Linkerd's (which authorizes clients of a Server).
    kind: 'AuthorizationPolicy',
    apiVersions: [...ISTIO_SECURITY, LINKERD_POLICY],
    plural: 'authorizationpolicies',
    shortNames: ['ap'],
    namespaced: true,
    read: (check, spec, context) => {
      if (context.apiVersion === LINKERD_POLICY) {
        const policy = readLinkerdAuthorizationPolicy(check, spec, context);
        return policy && linkerd({ kind: 'LinkerdAuthorizationPolicy', policy });
      }
      const authorizationPolicy = readAuthorizationPolicy(check, spec, context);
      return authorizationPolicy && { kind: 'AuthorizationPolicy', authorizationPolicy };
    },
  },
  {
    kind: 'RequestAuthentication',
    apiVersions: ISTIO_SECURITY,
    plural: 'requestauthentications',
    shortNames: ['ra'],
    namespaced: true,
    read: (check, spec, context) => {
      const requestAuthentication = readRequestAuthentication(check, spec, context);
      return requestAuthentication && { kind: 'RequestAuthentication', requestAuthentication };
    },
  },
  {
    kind: 'TrafficTarget',
    apiVersions: ['access.smi-spec.io/v1alpha3', 'access.smi-spec.io/v1alpha4'],
    plural: 'traffictargets',
    shortNames: ['tt'],
    namespaced: true,
    read: (check, spec, context) => {
      const trafficTarget = readTrafficTarget(check, spec, context);
      return trafficTarget && { kind: 'TrafficTarget', trafficTarget };
    },
  },
  {
    // Read as the VirtualService it means for the model (the root service's weighted route).
    kind: 'TrafficSplit',
    apiVersions: [
      'split.smi-spec.io/v1alpha4',
      'split.smi-spec.io/v1alpha3',
      'split.smi-spec.io/v1alpha2',
      'split.smi-spec.io/v1alpha1',
    ],
    plural: 'trafficsplits',
    shortNames: ['ts'],
    namespaced: true,
    read: (check, spec, context) => {
      return readTrafficSplit(check, spec, context);
    },
  },
  {
    kind: 'HTTPRouteGroup',
    apiVersions: ['specs.smi-spec.io/v1alpha4', 'specs.smi-spec.io/v1alpha3'],
    plural: 'httproutegroups',
    shortNames: ['htr'],
    namespaced: true,
    read: (check, spec, context) => {
      const httpRouteGroup = readHttpRouteGroup(check, spec, context);
      return httpRouteGroup && { kind: 'HTTPRouteGroup', httpRouteGroup };
    },
  },
  {
    // One kind, two dialects: Istio's Gateway and Gateway API's share the name (and so a store
    // key: one Gateway per namespace/name, whichever API wrote it), read by their apiVersion.
    kind: 'Gateway',
    apiVersions: [...ISTIO_NETWORKING, ...GATEWAY_API],
    plural: 'gateways',
    shortNames: ['gw'],
    namespaced: true,
    read: (check, spec, context) => {
      const gatewayApi = context.apiVersion?.startsWith('gateway.networking.k8s.io/') ?? false;
      const gateway = gatewayApi
        ? readGatewayApiGateway(check, spec, context)
        : readIstioGateway(check, spec, context);
      return gateway && { kind: 'Gateway', gateway };
    },
  },
  {
    kind: 'HTTPRoute',
    apiVersions: [...GATEWAY_API, ...LINKERD_HTTPROUTE],
    plural: 'httproutes',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const route = readHttpRoute(check, spec, context);
      return route && { kind: 'HTTPRoute', route };
    },
  },
  {
    kind: 'GRPCRoute',
    apiVersions: GATEWAY_API,
    plural: 'grpcroutes',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const route = readGrpcRoute(check, spec, context);
      return route && { kind: 'GRPCRoute', route };
    },
  },
  {
    kind: 'TCPRoute',
    apiVersions: ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1alpha2'],
    plural: 'tcproutes',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const route = readStreamRoute('TCPRoute')(check, spec, context);
      return route && { kind: 'TCPRoute', route };
    },
  },
  {
    kind: 'TLSRoute',
    apiVersions: [
      'gateway.networking.k8s.io/v1',
      'gateway.networking.k8s.io/v1alpha3',
      'gateway.networking.k8s.io/v1alpha2',
    ],
    plural: 'tlsroutes',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const route = readStreamRoute('TLSRoute')(check, spec, context);
      return route && { kind: 'TLSRoute', route };
    },
  },
  {
    // Cluster-scoped upstream; stored in a namespace like every weft resource.
    kind: 'GatewayClass',
    apiVersions: GATEWAY_API,
    plural: 'gatewayclasses',
    shortNames: ['gc'],
    namespaced: true,
    read: (check, spec, context) => {
      const gatewayClass = readGatewayClass(check, spec, context);
      return gatewayClass && { kind: 'GatewayClass', gatewayClass };
    },
  },
  {
    kind: 'ReferenceGrant',
    apiVersions: [
      'gateway.networking.k8s.io/v1',
      'gateway.networking.k8s.io/v1beta1',
      'gateway.networking.k8s.io/v1alpha2',
    ],
    plural: 'referencegrants',
    shortNames: ['refgrant'],
    namespaced: true,
    read: (check, spec, context) => {
      const referenceGrant = readReferenceGrant(check, spec, context);
      return referenceGrant && { kind: 'ReferenceGrant', referenceGrant };
    },
  },
  {
    kind: 'Telemetry',
    apiVersions: ['telemetry.istio.io/v1', 'telemetry.istio.io/v1alpha1'],
    plural: 'telemetries',
    shortNames: ['telemetry'],
    namespaced: true,
    read: (check, spec, context) => {
      const telemetry = readTelemetry(check, spec, context);
      return telemetry && { kind: 'Telemetry', telemetry };
    },
  },
  {
    kind: 'MeshConfig',
    apiVersions: ['weft.dev/v1alpha1'],
    plural: 'meshconfigs',
    shortNames: ['mc'],
    namespaced: true,
    read: (check, spec, context) => {
      const meshConfig = readMeshConfig(check, spec, context);
      return meshConfig && { kind: 'MeshConfig', meshConfig };
    },
  },
  {
    kind: 'RateLimit',
    apiVersions: ['weft.dev/v1alpha1'],
    plural: 'ratelimits',
    shortNames: ['rl'],
    namespaced: true,
    read: (check, spec, context) => {
      const rateLimit = readRateLimit(check, spec, context);
      return rateLimit && { kind: 'RateLimit', rateLimit };
    },
  },
  {
    kind: 'HTTPLocalRateLimitPolicy',
    apiVersions: ['policy.linkerd.io/v1alpha1'],
    plural: 'httplocalratelimitpolicies',
    shortNames: [],
    namespaced: true,
    read: (check, spec, context) => {
      const identityRateLimit = readHttpLocalRateLimitPolicy(check, spec, context);
      return identityRateLimit && { kind: 'HTTPLocalRateLimitPolicy', identityRateLimit };
    },
  },
  {
    kind: 'Server',
    apiVersions: ['policy.linkerd.io/v1beta3', 'policy.linkerd.io/v1beta2', 'policy.linkerd.io/v1beta1'],
    plural: 'servers',
    shortNames: ['srv'],
    namespaced: true,
    read: (check, spec, context) => {
      const server = readServer(check, spec, context);
      return server && linkerd({ kind: 'Server', server });
    },
  },
  {
    kind: 'MeshTLSAuthentication',
    apiVersions: [LINKERD_POLICY],
    plural: 'meshtlsauthentications',
    shortNames: ['meshtlsauthn'],
    namespaced: true,
    read: (check, spec, context) => {
      const meshTls = readMeshTlsAuthentication(check, spec, context);
      return meshTls && linkerd({ kind: 'MeshTLSAuthentication', meshTls });
    },
  },
  {
    kind: 'NetworkAuthentication',
    apiVersions: [LINKERD_POLICY],
    plural: 'networkauthentications',
    shortNames: ['netauthn'],
    namespaced: true,
    read: (check, spec, context) => {
      const network = readNetworkAuthentication(check, spec, context);
      return network && linkerd({ kind: 'NetworkAuthentication', network });
    },
  },
  {
    kind: 'ServerAuthorization',
    apiVersions: ['policy.linkerd.io/v1beta1'],
    plural: 'serverauthorizations',
    shortNames: ['saz'],
    namespaced: true,
    read: (check, spec, context) => {
      const serverAuthorization = readServerAuthorization(check, spec, context);
      return serverAuthorization && linkerd({ kind: 'ServerAuthorization', serverAuthorization });
    },
  },
  {
    kind: 'ServiceProfile',
    apiVersions: ['linkerd.io/v1alpha2'],
    plural: 'serviceprofiles',
    shortNames: ['sp'],
    namespaced: true,
    read: (check, spec, context) => {
      const serviceProfile = readServiceProfile(check, spec, context);
      return serviceProfile && { kind: 'ServiceProfile', serviceProfile };
    },
  },
];

function info(definition: KindDefinition): KindInfo {
  return {
    kind: definition.kind,
    apiVersions: [...definition.apiVersions],
    plural: definition.plural,
    shortNames: [...definition.shortNames],
    namespaced: definition.namespaced,
  };
}

/** The definition of a Kind exactly as documents write it (`VirtualService`), or undefined. */
export function kindDefinition(kind: string): KindDefinition | undefined {
  return DEFINITIONS.find((definition) => definition.kind === kind);
}

/**
 * Looks up a kind by any of: Kind, kind in any case, plural, short name (`vs`, `dr`, `se`, `we`),
 * each optionally followed by its API group (`virtualservices.networking.istio.io`).
 */
export function resolveKind(name: string): KindInfo | undefined {
  const wanted = name.trim().toLowerCase();
  for (const definition of DEFINITIONS) {
    const names = [definition.kind.toLowerCase(), definition.plural, ...definition.shortNames];
    const groups = new Set(definition.apiVersions.map((version) => version.split('/')[0]));
    for (const candidate of names)
      if (wanted === candidate || [...groups].some((group) => wanted === `${candidate}.${group}`))
        return info(definition);
  }
  return undefined;
}

export function listKinds(): KindInfo[] {
  return DEFINITIONS.map(info);
}
