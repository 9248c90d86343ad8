// Builds the immutable MeshSnapshot from the config part (compiled resources) and live workloads (pure; no I/O).
//
// Resources are compiled once, outside model/ (src/control/compiled-store.ts); a rebuild only
// recombines compiled parts with the workloads. When the config part is the same object as the
// previous snapshot's and the workloads changed only what EDS reads, the new snapshot keeps the
// previous `configVersion` and shares its services and routing indexes.
import { isDeepStrictEqual } from 'node:util';
import type { ConfigView } from './config-view.ts';
import { deepFreeze, FrozenMap } from './frozen.ts';
import { byNamespaceName, byWorkload } from './order.ts';
import { destinationRulesByHost, virtualServicesByHost } from './routing-index.ts';
import { collectServices, endpointsOf, WorkloadIndex } from './services.ts';
import type { MeshSettings, MeshSnapshot, Service, Workload } from './types.ts';
import { allocateVips } from './vips.ts';

export { DEFAULT_MESH } from './mesh.ts';

/** What a snapshot is built from. */
export interface SnapshotInput {
  /** What the stored resources mean (`assembleConfig`). */
  config: ConfigView;
  /** Live workloads from the registry (weft sidecars); never changed by the snapshot. */
  workloads: readonly Workload[];
  /** Increases with every rebuild. */
  version: number;
  /** The snapshot this one replaces, to share what did not change with it. */
  previous?: MeshSnapshot;
}

/** The config part each snapshot was built from (to know whether the next one may share with it). */
const configOf = new WeakMap<MeshSnapshot, ConfigView>();
/** Frozen copies of registry workloads, made once per workload object (the registry keeps them). */
const frozenCopies = new WeakMap<Workload, Workload>();

function frozenWorkload(workload: Workload): Workload {
  let copy = frozenCopies.get(workload);
  if (copy === undefined) {
    copy = deepFreeze(structuredClone(workload));
    frozenCopies.set(workload, copy);
  }
  return copy;
}

/**
 * The namespaces that exist for `name.ns` host qualification: Kubernetes' default namespace, the
 * mesh's root namespace, and every namespace that holds a resource or a workload.
 */
export function meshNamespaces(
  mesh: MeshSettings,
  resourceNamespaces: Iterable<string>,
  workloads: readonly Workload[],
): Set<string> {
  const namespaces = new Set(['default', mesh.rootNamespace, ...resourceNamespaces]);
  for (const workload of workloads) namespaces.add(workload.namespace);
  return namespaces;
}

function sameServices(a: ReadonlyMap<string, Service>, b: ReadonlyMap<string, Service>): boolean {
  if (a.size !== b.size) return false;
  for (const [host, service] of b) {
    const other = a.get(host);
    if (other !== service && !isDeepStrictEqual(other, service)) return false;
  }
  return true;
}

function sameItems<T>(a: readonly T[] | undefined, b: readonly T[]): boolean {
  return a !== undefined && a.length === b.length && a.every((item, i) => item === b[i]);
}

/** Workloads behind each service; a host's list is the previous snapshot's when its members are the same. */
function endpointsByHost(
  services: ReadonlyMap<string, Service>,
  workloads: readonly Workload[],
  previous: MeshSnapshot | undefined,
): Map<string, readonly Workload[]> {
  const index = new WorkloadIndex(workloads);
  const out = new Map<string, readonly Workload[]>();
  for (const service of services.values()) {
    const endpoints = endpointsOf(service, index.candidates(service));
    const before = previous?.endpointsByHost.get(service.hostname);
    out.set(service.hostname, before !== undefined && sameItems(before, endpoints) ? before : endpoints);
  }
  return out;
}

/** `namespace/serviceAccount` of each endpoint, sorted: what secure naming (CDS) reads of them. */
function identities(endpoints: readonly Workload[]): string {
  return [...new Set(endpoints.map((w) => `${w.namespace}/${w.serviceAccount}`))].sort().join(',');
}

/**
 * Whether the endpoints changed only what EDS reads: clusters read the identities of a service's
 * endpoints (secure naming) and, for DNS-resolved services, the endpoints themselves.
 */
function endpointsOnlyChanged(
  services: ReadonlyMap<string, Service>,
  endpoints: ReadonlyMap<string, readonly Workload[]>,
  previous: MeshSnapshot,
): boolean {
  for (const [host, service] of services) {
    const before = previous.endpointsByHost.get(host) ?? [];
    const after = endpoints.get(host) ?? [];
    if (before === after) continue;
    if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') return false;
    if (identities(before) !== identities(after)) return false;
  }
  return true;
}

export function buildSnapshot(input: SnapshotInput): MeshSnapshot {
  const { config } = input;
  const workloads = [...input.workloads.map(frozenWorkload), ...config.entries].sort(byWorkload);
  const previous =
    input.previous !== undefined && configOf.get(input.previous) === config ? input.previous : undefined;
  const collected = collectServices(config.declared, workloads, config.mesh.domainSuffix);
  const shared = previous !== undefined && sameServices(previous.services, collected) ? previous : undefined;
  const services = shared?.services ?? new FrozenMap(collected);
  const endpoints = endpointsByHost(services, workloads, previous);
  const endpointsOnly = shared !== undefined && endpointsOnlyChanged(services, endpoints, shared);
  const virtualServices = config.virtualServices;

  const snapshot: MeshSnapshot = {
    version: input.version,
    configVersion: endpointsOnly ? shared.configVersion : input.version,
    mesh: previous?.mesh ?? { ...config.mesh },
    services,
    vips: shared?.vips ?? new FrozenMap(allocateVips(services)),
    workloads,
    endpointsByHost: new FrozenMap(endpoints),
    virtualServices: previous?.virtualServices ?? [...virtualServices].sort(byNamespaceName),
    virtualServicesByHost:
      shared?.virtualServicesByHost ?? new FrozenMap(virtualServicesByHost(virtualServices, services)),
    destinationRules:
      shared?.destinationRules ?? new FrozenMap(destinationRulesByHost(config.destinationRules, services)),
    rejected: config.rejected,
    peerAuthentications: config.peerAuthentications,
    telemetries: config.telemetries,
    sidecars: config.sidecars,
    authorizationPolicies: config.authorizationPolicies,
    requestAuthentications: config.requestAuthentications,
    gateways: config.gateways,
    gatewayVirtualServices:
      previous?.gatewayVirtualServices ??
      virtualServices.filter((vs) => vs.gateways.some((g) => g !== 'mesh')),
    rateLimits: config.rateLimits,
    identityRateLimits: config.identityRateLimits,
    retryRatioBudgets: previous?.retryRatioBudgets ?? new FrozenMap(config.retryRatioBudgets),
  };
  configOf.set(snapshot, config);
  return deepFreeze(snapshot);
}
