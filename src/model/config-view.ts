// The config part of a snapshot: compiled resources grouped by what they mean, oldest first (pure).
import type { CompiledResource } from './compiled.ts';
import { gatewayApiVirtualServices } from './gateways.ts';
import { linkerdAuthorizationPolicies } from './linkerd-authorization.ts';
import type { LinkerdAuthorizationPart } from './linkerd-authorization-types.ts';
import { byNamespaceName, compareStrings } from './order.ts';
import { trafficTargetPolicies } from './policies.ts';
import { matchedSplitVirtualService } from './traffic-split.ts';
import type {
  AuthorizationPolicyModel,
  DefaultExportTo,
  DestinationRuleModel,
  GatewayApiRouteModel,
  GatewayModel,
  HttpRouteGroupModel,
  IdentityRateLimitModel,
  MatchedTrafficSplitModel,
  MeshConfigModel,
  MeshSettings,
  MeshTelemetry,
  PeerAuthenticationModel,
  RateLimitModel,
  ReferenceGrantModel,
  RejectedResource,
  RequestAuthenticationModel,
  RetryRatioBudget,
  Service,
  SidecarModel,
  TelemetryModel,
  TrafficTargetModel,
  VirtualServiceModel,
  Workload,
} from './types.ts';

/**
 * Everything the stored resources contribute to a snapshot, independent of live workloads.
 * Assembled once per change of the compiled resources; rebuilds after a proxy joins or leaves
 * reuse it as it is (the same object), which is how they know routes and policies are unchanged.
 */
export interface ConfigView {
  /** The control plane's settings, with the oldest MeshConfig's overrides applied. */
  mesh: MeshSettings;
  /** Mesh and gateway VirtualServices (Gateway API routes included), oldest first. */
  virtualServices: readonly VirtualServiceModel[];
  /** Oldest first. */
  destinationRules: readonly DestinationRuleModel[];
  /** ServiceEntry services, oldest resource first. */
  declared: readonly Service[];
  /** WorkloadEntry workloads. */
  entries: readonly Workload[];
  /** Sorted by namespace, name, kind. */
  rejected: readonly RejectedResource[];
  peerAuthentications: readonly PeerAuthenticationModel[];
  /** AuthorizationPolicies, then SMI TrafficTargets and Linkerd Servers mapped onto them. */
  authorizationPolicies: readonly AuthorizationPolicyModel[];
  requestAuthentications: readonly RequestAuthenticationModel[];
  gateways: readonly GatewayModel[];
  rateLimits: readonly RateLimitModel[];
  identityRateLimits: readonly IdentityRateLimitModel[];
  retryRatioBudgets: ReadonlyMap<string, RetryRatioBudget>;
  /** Telemetry resources, oldest first. */
  telemetries: readonly TelemetryModel[];
  /** Sidecar resources, oldest first. */
  sidecars: readonly SidecarModel[];
}

/** Oldest first (creationTimestamp; resources without one count as newest), then namespace, name, kind. */
function byAge(a: CompiledResource, b: CompiledResource): number {
  const time = (r: CompiledResource) => {
    const parsed = r.creationTimestamp === undefined ? Number.NaN : Date.parse(r.creationTimestamp);
    return Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
  };
  const [x, y] = [time(a), time(b)];
  if (x !== y) return x < y ? -1 : 1;
  return byNamespaceName(a, b) || compareStrings(a.kind, b.kind);
}

/** Lists being filled, one per meaning; security policies keep the oldest-first order (Istio: the oldest wins a tie). */
interface Collected {
  virtualServices: VirtualServiceModel[];
  destinationRules: DestinationRuleModel[];
  declared: Service[];
  entries: Workload[];
  rejected: RejectedResource[];
  peerAuthentications: PeerAuthenticationModel[];
  authorizationPolicies: AuthorizationPolicyModel[];
  requestAuthentications: RequestAuthenticationModel[];
  trafficTargets: TrafficTargetModel[];
  httpRouteGroups: HttpRouteGroupModel[];
  linkerdAuthorization: LinkerdAuthorizationPart[];
  gateways: GatewayModel[];
  gatewayRoutes: GatewayApiRouteModel[];
  referenceGrants: ReferenceGrantModel[];
  meshConfigs: MeshConfigModel[];
  rateLimits: RateLimitModel[];
  identityRateLimits: IdentityRateLimitModel[];
  retryRatioBudgets: Map<string, RetryRatioBudget>;
  telemetries: TelemetryModel[];
  /** TrafficSplits with `matches`, and where their VirtualService goes in `virtualServices`. */
  matchedSplits: { at: number; split: MatchedTrafficSplitModel }[];
  sidecars: SidecarModel[];
}

function collect(into: Collected, resource: CompiledResource): void {
  const { result } = resource;
  if (result.outcome === 'rejected') {
    const { kind, namespace, name } = resource;
    into.rejected.push({ kind, namespace, name, issues: result.issues });
    return;
  }
  const compiled = result.compiled;
  if (compiled.kind === 'VirtualService') into.virtualServices.push(compiled.virtualService);
  else if (compiled.kind === 'DestinationRule') into.destinationRules.push(compiled.destinationRule);
  else if (compiled.kind === 'ServiceEntry') into.declared.push(...compiled.services);
  else if (compiled.kind === 'WorkloadEntry') into.entries.push(compiled.workload);
  else if (compiled.kind === 'PeerAuthentication') into.peerAuthentications.push(compiled.peerAuthentication);
  else if (compiled.kind === 'AuthorizationPolicy')
    into.authorizationPolicies.push(compiled.authorizationPolicy);
  else if (compiled.kind === 'RequestAuthentication')
    into.requestAuthentications.push(compiled.requestAuthentication);
  else if (compiled.kind === 'TrafficTarget') into.trafficTargets.push(compiled.trafficTarget);
  else if (compiled.kind === 'HTTPRouteGroup') into.httpRouteGroups.push(compiled.httpRouteGroup);
  else if (compiled.kind === 'TrafficSplit') {
    // Its place in age order is kept; its matches are known once every HTTPRouteGroup is read.
    into.matchedSplits.push({ at: into.virtualServices.length, split: compiled.matchedSplit });
    into.virtualServices.push(compiled.matchedSplit.split);
  } else if (compiled.kind === 'Gateway') into.gateways.push(compiled.gateway);
  else if (
    compiled.kind === 'HTTPRoute' ||
    compiled.kind === 'GRPCRoute' ||
    compiled.kind === 'TCPRoute' ||
    compiled.kind === 'TLSRoute'
  )
    into.gatewayRoutes.push(compiled.route);
  else if (compiled.kind === 'ReferenceGrant') into.referenceGrants.push(compiled.referenceGrant);
  else if (compiled.kind === 'GatewayClass') return;
  else if (compiled.kind === 'ServiceProfile') {
    // Its routes act as a VirtualService for the host; the oldest profile's budget wins.
    into.virtualServices.push(compiled.serviceProfile.virtualService);
    const { host, retryBudget } = compiled.serviceProfile;
    if (retryBudget && !into.retryRatioBudgets.has(host)) into.retryRatioBudgets.set(host, retryBudget);
  } else if (compiled.kind === 'RateLimit') into.rateLimits.push(compiled.rateLimit);
  else if (compiled.kind === 'HTTPLocalRateLimitPolicy')
    into.identityRateLimits.push(compiled.identityRateLimit);
  else if (compiled.kind === 'Telemetry') into.telemetries.push(compiled.telemetry);
  else if (compiled.kind === 'Sidecar') into.sidecars.push(compiled.sidecar);
  else if (compiled.kind === 'LinkerdAuthorization') into.linkerdAuthorization.push(compiled.part);
  else into.meshConfigs.push(compiled.meshConfig);
}

/** HTTPLocalRateLimitPolicies that target an existing Linkerd Server, with its selector and port. */
function withServers(
  limits: readonly IdentityRateLimitModel[],
  parts: readonly LinkerdAuthorizationPart[],
): IdentityRateLimitModel[] {
  return limits.map((limit) => {
    const found = parts.find(
      (p) =>
        p.kind === 'Server' && p.server.namespace === limit.namespace && p.server.name === limit.serverName,
    );
    if (found?.kind !== 'Server') return limit;
    return { ...limit, server: { selector: found.server.selector, port: found.server.port } };
  });
}

/** Groups compiled resources (any order) into a ConfigView for the mesh settings `mesh`. */
export function assembleConfig(resources: Iterable<CompiledResource>, mesh: MeshSettings): ConfigView {
  const c: Collected = {
    virtualServices: [],
    destinationRules: [],
    declared: [],
    entries: [],
    rejected: [],
    peerAuthentications: [],
    authorizationPolicies: [],
    requestAuthentications: [],
    trafficTargets: [],
    httpRouteGroups: [],
    linkerdAuthorization: [],
    gateways: [],
    gatewayRoutes: [],
    referenceGrants: [],
    meshConfigs: [],
    rateLimits: [],
    identityRateLimits: [],
    retryRatioBudgets: new Map(),
    telemetries: [],
    matchedSplits: [],
    sidecars: [],
  };
  for (const resource of [...resources].sort(byAge)) collect(c, resource);
  for (const { at, split } of c.matchedSplits)
    c.virtualServices[at] = matchedSplitVirtualService(split, c.httpRouteGroups);
  // Gateway API routes become VirtualServices (bound to their Gateway, or to `mesh` for a Service parent).
  const gatewayApi = gatewayApiVirtualServices(c.gatewayRoutes, c.gateways, c.referenceGrants);
  // The oldest MeshConfig that sets a field overrides the control plane's flag for it.
  const outboundPolicy = c.meshConfigs.find(
    (m) => m.outboundTrafficPolicy !== undefined,
  )?.outboundTrafficPolicy;
  const pathNormalization = c.meshConfigs.find((m) => m.pathNormalization !== undefined)?.pathNormalization;
  const telemetry = meshTelemetry(c.meshConfigs, mesh.telemetry);
  const defaultExportTo = meshDefaultExportTo(c.meshConfigs);
  return {
    mesh: {
      ...mesh,
      ...(outboundPolicy === undefined ? {} : { outboundTrafficPolicy: outboundPolicy }),
      ...(pathNormalization === undefined ? {} : { pathNormalization }),
      ...(telemetry === undefined ? {} : { telemetry }),
      ...(defaultExportTo === undefined ? {} : { defaultExportTo }),
    },
    virtualServices: [...c.virtualServices, ...gatewayApi.virtualServices],
    destinationRules: c.destinationRules,
    declared: c.declared,
    entries: c.entries,
    rejected: [...c.rejected, ...gatewayApi.unattached].sort(
      (a, b) => byNamespaceName(a, b) || compareStrings(a.kind, b.kind),
    ),
    peerAuthentications: c.peerAuthentications,
    authorizationPolicies: [
      ...c.authorizationPolicies,
      ...trafficTargetPolicies(c.trafficTargets, c.httpRouteGroups, mesh.trustDomain),
      ...linkerdAuthorizationPolicies(c.linkerdAuthorization, mesh.trustDomain),
    ],
    requestAuthentications: c.requestAuthentications,
    gateways: c.gateways,
    rateLimits: c.rateLimits,
    identityRateLimits: withServers(c.identityRateLimits, c.linkerdAuthorization),
    retryRatioBudgets: c.retryRatioBudgets,
    telemetries: c.telemetries,
    sidecars: c.sidecars,
  };
}

/** Per kind, the oldest MeshConfig's `default*ExportTo` that sets it. */
function meshDefaultExportTo(configs: readonly MeshConfigModel[]): DefaultExportTo | undefined {
  const out: { -readonly [K in keyof DefaultExportTo]: DefaultExportTo[K] } = {};
  for (const kind of ['service', 'virtualService', 'destinationRule'] as const) {
    const set = configs.find((m) => m.defaultExportTo?.[kind] !== undefined);
    if (set) out[kind] = set.defaultExportTo![kind];
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Per field, the oldest MeshConfig that sets it overrides the control plane's settings. */
function meshTelemetry(
  configs: readonly MeshConfigModel[],
  base: MeshTelemetry | undefined,
): MeshTelemetry | undefined {
  const keys = [
    'accessLogFile',
    'accessLogEncoding',
    'accessLogFormat',
    'extensionProviders',
    'defaultProviders',
  ] as const;
  const out: Record<string, unknown> = { ...base };
  for (const key of keys) {
    const set = configs.find((m) => m.telemetry?.[key] !== undefined);
    if (set) out[key] = set.telemetry![key];
  }
  return Object.keys(out).length === 0 ? undefined : (out as MeshTelemetry);
}
