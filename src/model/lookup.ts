// Lookups generators need on a snapshot: the DestinationRule for a host, and exportTo visibility (a resource's own, else MeshConfig's default).
import { hostMatches, isWildcardHost } from './hostnames.ts';
import type { DefaultExportTo, DestinationRuleModel, MeshSettings, MeshSnapshot } from './types.ts';

/**
 * The DestinationRule that applies to `hostname`: the rule for exactly that host, else the rule
 * with the most specific wildcard host covering it (`*.example.com` before `*`), as in Istio.
 */
export function destinationRuleFor(
  snapshot: MeshSnapshot,
  hostname: string,
): DestinationRuleModel | undefined {
  const exact = snapshot.destinationRules.get(hostname);
  if (exact !== undefined) return exact;
  let best: DestinationRuleModel | undefined;
  for (const [host, rule] of snapshot.destinationRules)
    if (
      isWildcardHost(host) &&
      hostMatches(host, hostname) &&
      (best === undefined || host.length > best.host.length)
    )
      best = rule;
  return best;
}

/**
 * Whether a resource of `kind` is visible from `namespace`: its own `exportTo`
 * (namespaces, `*`, `~`) wins; without one (absent or empty), MeshConfig's default for the kind (where `.` is the
 * resource's own namespace); without that, every namespace (Istio's semantics).
 */
export function exportedTo(
  mesh: MeshSettings,
  kind: keyof DefaultExportTo,
  resource: { namespace: string; exportTo?: readonly string[] },
  namespace: string,
): boolean {
  // An empty list means the same as none (Istio).
  const entries = resource.exportTo?.length ? resource.exportTo : mesh.defaultExportTo?.[kind];
  if (entries === undefined) return true;
  return entries.some((e) => e === '*' || e === namespace || (e === '.' && resource.namespace === namespace));
}

/** The DestinationRule that applies to `hostname` for proxies in `namespace`: `destinationRules`' rule, when exported there. */
export function visibleDestinationRule(
  snapshot: MeshSnapshot,
  hostname: string,
  namespace: string,
): DestinationRuleModel | undefined {
  const rule = snapshot.destinationRules.get(hostname);
  return rule && exportedTo(snapshot.mesh, 'destinationRule', rule, namespace) ? rule : undefined;
}
