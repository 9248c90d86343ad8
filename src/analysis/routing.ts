// Analyzers of routing: subsets no DestinationRule defines, hosts no service has or not exported to the route, rules for no service, conflicting VirtualServices.
import type { FieldPath } from '../config/check.ts';
import type { ResourceKey } from '../config/resource.ts';
import { isWildcardHost } from '../model/hostnames.ts';
import { destinationRuleFor, exportedTo } from '../model/lookup.ts';
import type {
  DestinationRuleModel,
  MeshSnapshot,
  RouteDestination,
  VirtualServiceModel,
} from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** A VirtualService with the resource it was read from. */
export interface ReadVirtualService {
  key: ResourceKey;
  model: VirtualServiceModel;
  /** Set when the resource is not a VirtualService (a TrafficSplit): where its destinations are written. */
  destinationsAt?: FieldPath;
}

/** Every destination of a VirtualService with the path of its `destination` field. */
function destinations(vs: VirtualServiceModel): { to: RouteDestination; path: FieldPath }[] {
  const out: { to: RouteDestination; path: FieldPath }[] = [];
  const add = (list: string, routes: readonly { route?: readonly RouteDestination[] }[]) => {
    for (const [i, r] of routes.entries())
      for (const [j, to] of (r.route ?? []).entries())
        out.push({ to, path: ['spec', list, i, 'route', j, 'destination'] });
  };
  add('http', vs.http);
  add('tcp', vs.tcp);
  add('tls', vs.tls ?? []);
  return out;
}

/** Every destination of every VirtualService, with its resource. */
function allDestinations(services: readonly ReadVirtualService[]) {
  return services.flatMap(({ key, model, destinationsAt }) =>
    destinations(model).map((d) => ({ key, model, ...d, path: destinationsAt ?? d.path })),
  );
}

/** A host is known when a service (ServiceEntry, sidecar, WorkloadEntry) has it. */
function isKnownHost(snapshot: MeshSnapshot, host: string): boolean {
  return snapshot.services.has(host);
}

/** Routes to subsets that the DestinationRule for the host does not define: every such request fails 503 (NC). */
export function undefinedSubsets(
  snapshot: MeshSnapshot,
  services: readonly ReadVirtualService[],
): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const { key, to, path } of allDestinations(services)) {
    if (to.subset === undefined) continue;
    const rule = destinationRuleFor(snapshot, to.host);
    if (rule?.subsets.some((s) => s.name === to.subset)) continue;
    out.push({
      code: 'SubsetNotFound',
      resource: key,
      path: [...path, 'subset'],
      message:
        rule === undefined
          ? `subset ${to.subset} of ${to.host}: no DestinationRule for the host defines subsets, so every request routed here fails with 503 (NC)`
          : `subset ${to.subset} is not defined by DestinationRule ${rule.namespace}/${rule.name} for ${to.host}, so every request routed here fails with 503 (NC)`,
      hint:
        rule === undefined
          ? `add a DestinationRule with host ${to.host} and a subset named ${to.subset}`
          : `add subset ${to.subset} to DestinationRule ${rule.namespace}/${rule.name}${rule.subsets.length > 0 ? `, or route to one it defines (${rule.subsets.map((s) => s.name).join(', ')})` : ''}`,
    });
  }
  return out;
}

/** Routes to hosts that no service has (needs the mesh's services: a control plane's registry). */
export function unknownHosts(
  snapshot: MeshSnapshot,
  services: readonly ReadVirtualService[],
): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const { key, to, path } of allDestinations(services)) {
    if (isKnownHost(snapshot, to.host)) continue;
    out.push({
      code: 'HostNotFound',
      resource: key,
      path: path.at(-1) === 'destination' ? [...path, 'host'] : path,
      message: `no service has host ${to.host}: no sidecar serves it and no ServiceEntry declares it, so requests routed here fail with 503`,
      hint: `check the spelling, start the service's sidecar (weft run --service ${to.host.split('.')[0]} ...), or declare it with a ServiceEntry`,
    });
  }
  return out;
}

/**
 * Routes to a service that is not exported to a namespace using the route (the VirtualService's
 * own, and those its exportTo names): proxies there have no cluster for it, so they answer 503.
 */
export function hostsNotExported(
  snapshot: MeshSnapshot,
  services: readonly ReadVirtualService[],
): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const { key, model, to, path } of allDestinations(services)) {
    const service = snapshot.services.get(to.host);
    if (!service) continue;
    const named = (
      model.exportTo?.length ? model.exportTo : (snapshot.mesh.defaultExportTo?.virtualService ?? [])
    ).filter((e) => e !== '*' && e !== '~' && e !== '.');
    const users = [...new Set([model.namespace, ...named])].filter((ns) =>
      exportedTo(snapshot.mesh, 'virtualService', model, ns),
    );
    const blind = users.find((ns) => !exportedTo(snapshot.mesh, 'service', service, ns));
    if (blind === undefined) continue;
    out.push({
      code: 'HostNotExported',
      resource: key,
      path: path.at(-1) === 'destination' ? [...path, 'host'] : path,
      message: `${to.host} is not exported to namespace ${blind} (its exportTo${service.exportTo?.length ? '' : ", from MeshConfig's defaultServiceExportTo"}), so proxies there that use this route fail with 503`,
      hint: `export ${to.host} to ${blind} (exportTo on its ServiceEntry, or MeshConfig's defaultServiceExportTo), or route to a service visible there`,
    });
  }
  return out;
}

/** DestinationRules whose (non-wildcard) host is no service's. */
export function rulesForNoService(
  snapshot: MeshSnapshot,
  rules: readonly { key: ResourceKey; model: DestinationRuleModel }[],
): AnalysisFinding[] {
  return rules
    .filter(({ model }) => !isWildcardHost(model.host) && !isKnownHost(snapshot, model.host))
    .map(({ key, model }) => ({
      code: 'DestinationRuleHostNotFound' as const,
      resource: key,
      path: ['spec', 'host'],
      message: `no service has host ${model.host}, so this DestinationRule applies to nothing`,
      hint: "name the host of a running service or a ServiceEntry (short names are read in the rule's namespace)",
    }));
}

/**
 * VirtualServices bound to `mesh` that name the same host: weft (as Istio) merges their routes
 * oldest first, so a catch-all route of one hides the other's routes.
 */
export function conflictingVirtualServices(services: readonly ReadVirtualService[]): AnalysisFinding[] {
  const byHost = new Map<string, ReadVirtualService[]>();
  for (const entry of services) {
    if (!entry.model.gateways.includes('mesh')) continue;
    for (const host of entry.model.hosts) byHost.set(host, [...(byHost.get(host) ?? []), entry]);
  }
  const out: AnalysisFinding[] = [];
  for (const [host, entries] of byHost) {
    if (entries.length < 2) continue;
    const names = entries.map((e) => `${e.key.namespace}/${e.key.name}`);
    for (const entry of entries)
      out.push({
        code: 'ConflictingVirtualServices',
        resource: entry.key,
        path: entry.destinationsAt ? ['spec', 'service'] : ['spec', 'hosts', entry.model.hosts.indexOf(host)],
        message: `VirtualServices ${names.join(', ')} all route host ${host} for sidecars; their routes are merged oldest first, so a catch-all route in one hides the routes of the others`,
        hint: `merge them into one VirtualService for ${host}`,
      });
  }
  return out;
}
