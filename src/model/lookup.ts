// Lookups generators need on a snapshot: the DestinationRule for a host, and exportTo visibility.
import { hostMatches, isWildcardHost } from './hostnames.ts';
import type { DestinationRuleModel, MeshSnapshot } from './types.ts';

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

/** Whether something exported to `exportTo` (normalised: namespaces, `*` or `~`) is visible from `namespace`. */
export function isVisibleTo(exportTo: readonly string[] | undefined, namespace: string): boolean {
  if (exportTo === undefined) return true;
  return exportTo.includes('*') || exportTo.includes(namespace);
}
