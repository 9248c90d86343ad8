// Which VirtualServices and DestinationRule apply to each host, with Istio's precedence simplified (docs/resources.md).
import { hostMatches, isWildcardHost } from './hostnames.ts';
import { compareStrings } from './order.ts';
import type { DestinationRuleModel, Service, VirtualServiceModel } from './types.ts';

/** The gateway name that binds a VirtualService to every sidecar. */
const MESH = 'mesh';

/** How specifically `vs` names `hostname`: exactly beats any wildcard, a longer wildcard beats a shorter, 0 = not at all. */
function specificity(vs: VirtualServiceModel, hostname: string): number {
  let best = 0;
  for (const pattern of vs.hosts) {
    if (pattern === hostname) return Number.MAX_SAFE_INTEGER;
    if (isWildcardHost(pattern) && !isWildcardHost(hostname) && hostMatches(pattern, hostname))
      best = Math.max(best, pattern.length);
  }
  return best;
}

/**
 * For each service host, the VirtualServices bound to `mesh` whose hosts name it: exactly, or by
 * a wildcard (`*.example.com`, `*`) that covers it. Order: exact matches first, then wildcards
 * from the most specific; within each, the order of `byAge` (oldest first). Generators append
 * the http routes of the list in that order (the first matching route wins), which is how Istio
 * merges VirtualServices for one host.
 */
export function virtualServicesByHost(
  byAge: readonly VirtualServiceModel[],
  services: ReadonlyMap<string, Service>,
): Map<string, VirtualServiceModel[]> {
  const out = new Map<string, VirtualServiceModel[]>();
  const meshBound = byAge.filter((vs) => vs.gateways.includes(MESH));
  for (const hostname of services.keys()) {
    const ranked = meshBound
      .map((vs, age) => ({ vs, age, specificity: specificity(vs, hostname) }))
      .filter((entry) => entry.specificity > 0)
      .sort((a, b) => b.specificity - a.specificity || a.age - b.age);
    if (ranked.length > 0)
      out.set(
        hostname,
        ranked.map((entry) => entry.vs),
      );
  }
  return out;
}

/**
 * One DestinationRule per host (the rule's own qualified host). When several name the same host,
 * the one in the namespace of the service with that hostname wins, else the oldest (`byAge`).
 * Istio would instead prefer the client's namespace and merge subsets; see docs/resources.md.
 */
export function destinationRulesByHost(
  byAge: readonly DestinationRuleModel[],
  services: ReadonlyMap<string, Service>,
): Map<string, DestinationRuleModel> {
  const out = new Map<string, DestinationRuleModel>();
  for (const rule of byAge) {
    const current = out.get(rule.host);
    if (current === undefined) {
      out.set(rule.host, rule);
      continue;
    }
    const home = services.get(rule.host)?.namespace;
    if (home !== undefined && rule.namespace === home && current.namespace !== home) out.set(rule.host, rule);
  }
  return new Map([...out].sort(([a], [b]) => compareStrings(a, b)));
}
