// The stored resources that apply to one service (routes, DestinationRules, policies) and its traffic split as configured.
import type { Resource } from '../../config/resource.ts';

/** A resource named by kind, namespace and name. */
export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Weight per version (a subset resolved through its DestinationRule's `version` label; else the subset name). */
export interface ConfiguredSplit {
  /** The VirtualService the split comes from. */
  from: ResourceRef;
  weights: Record<string, number>;
}

export interface ServiceConfig {
  virtualServices: ResourceRef[];
  destinationRules: ResourceRef[];
  policies: ResourceRef[];
  /** From the first HTTP route of the first VirtualService with weighted destinations; null: none. */
  configuredSplit: ConfiguredSplit | null;
}

const POLICY_KINDS = new Set([
  'AuthorizationPolicy',
  'PeerAuthentication',
  'RequestAuthentication',
  'Sidecar',
]);

/** Whether `host` (as written in a resource of namespace `ns`) names service `name`.`namespace`. */
export function namesService(host: unknown, ns: string, name: string, namespace: string): boolean {
  if (typeof host !== 'string') return false;
  if (host === '*') return false;
  if (host === `${name}.${namespace}` || host.startsWith(`${name}.${namespace}.svc`)) return true;
  return host === name && ns === namespace;
}

const ref = (r: Resource): ResourceRef => ({
  kind: r.kind,
  namespace: r.metadata.namespace ?? 'default',
  name: r.metadata.name,
});

interface RouteDestination {
  destination?: { host?: string; subset?: string };
  weight?: number;
}

/** The split of the first weighted HTTP route toward the service, subsets resolved to versions. */
function split(vs: Resource[], drs: Resource[], name: string, namespace: string): ConfiguredSplit | null {
  const versionOf = new Map<string, string>();
  for (const dr of drs)
    for (const s of (dr.spec.subsets as { name?: string; labels?: Record<string, string> }[]) ?? [])
      if (s.name) versionOf.set(s.name, s.labels?.version ?? s.name);
  for (const v of vs) {
    for (const route of (v.spec.http as { route?: RouteDestination[] }[]) ?? []) {
      const dests = (route.route ?? []).filter((d) =>
        namesService(d.destination?.host, ref(v).namespace, name, namespace),
      );
      if (dests.length === 0) continue;
      const weights: Record<string, number> = {};
      for (const d of dests) {
        const version = d.destination?.subset
          ? (versionOf.get(d.destination.subset) ?? d.destination.subset)
          : 'any';
        weights[version] = (weights[version] ?? 0) + (d.weight ?? (dests.length === 1 ? 100 : 0));
      }
      return { from: ref(v), weights };
    }
  }
  return null;
}

/** What the store holds about service `name`.`namespace`; `labels` are its workloads' (policy selectors). */
export function serviceConfig(
  resources: Resource[],
  name: string,
  namespace: string,
  rootNamespace = 'istio-system',
): ServiceConfig {
  const vs = resources.filter(
    (r) =>
      r.kind === 'VirtualService' &&
      ((r.spec.hosts as unknown[]) ?? []).some((h) => namesService(h, ref(r).namespace, name, namespace)),
  );
  const drs = resources.filter(
    (r) => r.kind === 'DestinationRule' && namesService(r.spec.host, ref(r).namespace, name, namespace),
  );
  const policies = resources.filter((r) => {
    if (!POLICY_KINDS.has(r.kind)) return false;
    const ns = ref(r).namespace;
    if (ns !== namespace && ns !== rootNamespace) return false;
    const selector = (r.spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
    return !selector || selector.app === undefined || selector.app === name;
  });
  return {
    virtualServices: vs.map(ref),
    destinationRules: drs.map(ref),
    policies: policies.map(ref),
    configuredSplit: split(vs, drs, name, namespace),
  };
}
