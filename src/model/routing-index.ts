// Which VirtualServices and DestinationRule apply to each host, with Istio's precedence simplified (docs/resources.md).
import { hostMatches, isWildcardHost } from '../config/host.ts';
import { compareStrings } from './order.ts';
import type { DestinationRuleModel, Service, VirtualServiceModel } from './types.ts';

/** The gateway name that binds a VirtualService to every sidecar. */
const MESH = 'mesh';

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
    const ranked: { vs: VirtualServiceModel; rank: number; age: number }[] = [];
    meshBound.forEach((vs, age) => {
      // rank 0 = exact; otherwise the longer the covering wildcard, the more specific (lower rank).
      let rank = Number.POSITIVE_INFINITY;
      for (const pattern of vs.hosts) {
        if (pattern === hostname) rank = 0;
        else if (isWildcardHost(pattern) && !isWildcardHost(hostname) && hostMatches(pattern, hostname))
          rank = Math.min(rank, 1000 - pattern.length);
      }
      if (rank !== Number.POSITIVE_INFINITY) ranked.push({ vs, rank, age });
    });
    if (ranked.length === 0) continue;
    ranked.sort((a, b) => a.rank - b.rank || a.age - b.age);
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
