// Builds the immutable MeshSnapshot from stored resources and live workloads (pure; no I/O).
//
// Resources are read again here with the mesh's settings (config/compile.ts), so hosts are
// qualified with the real DNS suffix and the namespaces that exist; the store only holds
// resources that passed the same checks when they were applied.
import { compileResource } from '../config/compile.ts';
import type { Resource } from '../config/resource.ts';
import { deepFreeze, FrozenMap } from './frozen.ts';
import { gatewayApiVirtualServices } from './gateways.ts';
import { byNamespaceName, byWorkload, compareStrings } from './order.ts';
import { trafficTargetPolicies } from './policies.ts';
import { destinationRulesByHost, virtualServicesByHost } from './routing-index.ts';
import { collectServices, endpointsOf } from './services.ts';
import type {
  AuthorizationPolicyModel,
  DestinationRuleModel,
  GatewayApiRouteModel,
  GatewayModel,
  HttpRouteGroupModel,
  MeshConfigModel,
  MeshSettings,
  MeshSnapshot,
  PeerAuthenticationModel,
  RateLimitModel,
  RejectedResource,
  RequestAuthenticationModel,
  RetryRatioBudget,
  Service,
  TrafficTargetModel,
  VirtualServiceModel,
  Workload,
} from './types.ts';

export { DEFAULT_MESH } from './mesh.ts';

/** What a snapshot is built from. */
export interface SnapshotInput {
  /** Every stored resource (any kind; kinds without a model meaning are skipped). */
  resources: readonly Resource[];
  /** Live workloads from the registry (weft sidecars). */
  workloads: readonly Workload[];
  mesh: MeshSettings;
  /** Increases with every rebuild. */
  version: number;
}

/** Oldest first (creationTimestamp; resources without one count as newest), then namespace, name, kind. */
function byAge(a: Resource, b: Resource): number {
  const time = (r: Resource) => {
    const parsed =
      r.metadata.creationTimestamp === undefined ? Number.NaN : Date.parse(r.metadata.creationTimestamp);
    return Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
  };
  const [x, y] = [time(a), time(b)];
  if (x !== y) return x < y ? -1 : 1;
  return byNamespaceName(a.metadata, b.metadata) || compareStrings(a.kind, b.kind);
}

export function buildSnapshot(input: SnapshotInput): MeshSnapshot {
  const mesh: MeshSettings = { ...input.mesh };
  // Namespaces that exist for `name.ns` host qualification: Kubernetes' default namespace, the
  // mesh's root namespace, and every namespace that holds a resource or a workload.
  const namespaces = new Set([
    'default',
    mesh.rootNamespace,
    ...input.resources.map((r) => r.metadata.namespace),
    ...input.workloads.map((w) => w.namespace),
  ]);

  const virtualServices: VirtualServiceModel[] = [];
  const destinationRules: DestinationRuleModel[] = [];
  const declared: Service[] = [];
  const entries: Workload[] = [];
  const rejected: RejectedResource[] = [];
  // Security policies keep the oldest-first order of this loop (Istio: the oldest wins a tie).
  const peerAuthentications: PeerAuthenticationModel[] = [];
  const authorizationPolicies: AuthorizationPolicyModel[] = [];
  const requestAuthentications: RequestAuthenticationModel[] = [];
  const trafficTargets: TrafficTargetModel[] = [];
  const httpRouteGroups: HttpRouteGroupModel[] = [];
  const gateways: GatewayModel[] = [];
  const gatewayRoutes: GatewayApiRouteModel[] = [];
  const meshConfigs: MeshConfigModel[] = [];
  const rateLimits: RateLimitModel[] = [];
  const retryRatioBudgets = new Map<string, RetryRatioBudget>();
  for (const resource of [...input.resources].sort(byAge)) {
    const result = compileResource(resource, { domainSuffix: mesh.domainSuffix, namespaces });
    if (result === undefined) continue;
    if (result.outcome === 'rejected') {
      const { namespace, name } = resource.metadata;
      rejected.push({ kind: resource.kind, namespace, name, issues: result.issues });
      continue;
    }
    const compiled = result.compiled;
    if (compiled.kind === 'VirtualService') virtualServices.push(compiled.virtualService);
    else if (compiled.kind === 'DestinationRule') destinationRules.push(compiled.destinationRule);
    else if (compiled.kind === 'ServiceEntry') declared.push(...compiled.services);
    else if (compiled.kind === 'WorkloadEntry') entries.push(compiled.workload);
    else if (compiled.kind === 'PeerAuthentication') peerAuthentications.push(compiled.peerAuthentication);
    else if (compiled.kind === 'AuthorizationPolicy')
      authorizationPolicies.push(compiled.authorizationPolicy);
    else if (compiled.kind === 'RequestAuthentication')
      requestAuthentications.push(compiled.requestAuthentication);
    else if (compiled.kind === 'TrafficTarget') trafficTargets.push(compiled.trafficTarget);
    else if (compiled.kind === 'HTTPRouteGroup') httpRouteGroups.push(compiled.httpRouteGroup);
    else if (compiled.kind === 'Gateway') gateways.push(compiled.gateway);
    else if (compiled.kind === 'HTTPRoute' || compiled.kind === 'GRPCRoute')
      gatewayRoutes.push(compiled.route);
    else if (compiled.kind === 'ServiceProfile') {
      // Its routes act as a VirtualService for the host; the oldest profile's budget wins.
      virtualServices.push(compiled.serviceProfile.virtualService);
      const { host, retryBudget } = compiled.serviceProfile;
      if (retryBudget && !retryRatioBudgets.has(host)) retryRatioBudgets.set(host, retryBudget);
    } else if (compiled.kind === 'RateLimit' || compiled.kind === 'HTTPLocalRateLimitPolicy')
      rateLimits.push(compiled.rateLimit);
    else meshConfigs.push(compiled.meshConfig);
  }
  // Gateway API routes become VirtualServices (bound to their Gateway, or to `mesh` for a Service parent).
  const gatewayApi = gatewayApiVirtualServices(gatewayRoutes, gateways);
  virtualServices.push(...gatewayApi.virtualServices);
  rejected.push(...gatewayApi.unattached);
  // The oldest MeshConfig that sets a field overrides the control plane's flag for it.
  const outboundPolicy = meshConfigs.find(
    (m) => m.outboundTrafficPolicy !== undefined,
  )?.outboundTrafficPolicy;
  if (outboundPolicy !== undefined) mesh.outboundTrafficPolicy = outboundPolicy;

  const workloads = [...input.workloads.map((w) => structuredClone(w)), ...entries].sort(byWorkload);
  const services = collectServices(declared, workloads, mesh.domainSuffix);
  const endpoints = [...services.values()].map((s) => [s.hostname, endpointsOf(s, workloads)] as const);

  const snapshot: MeshSnapshot = {
    version: input.version,
    mesh,
    services: new FrozenMap(services),
    workloads,
    endpointsByHost: new FrozenMap(endpoints),
    virtualServices: [...virtualServices].sort(byNamespaceName),
    virtualServicesByHost: new FrozenMap(virtualServicesByHost(virtualServices, services)),
    destinationRules: new FrozenMap(destinationRulesByHost(destinationRules, services)),
    rejected: rejected.sort((a, b) => byNamespaceName(a, b) || compareStrings(a.kind, b.kind)),
    peerAuthentications,
    authorizationPolicies: [
      ...authorizationPolicies,
      ...trafficTargetPolicies(trafficTargets, httpRouteGroups, mesh.trustDomain),
    ],
    requestAuthentications,
    gateways,
    gatewayVirtualServices: virtualServices.filter((vs) => vs.gateways.some((g) => g !== 'mesh')),
    rateLimits,
    retryRatioBudgets: new FrozenMap(retryRatioBudgets),
  };
  return deepFreeze(snapshot);
}
