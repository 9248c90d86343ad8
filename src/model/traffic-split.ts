// SMI TrafficSplits limited to HTTPRouteGroup matches, as the VirtualService they mean once the groups are known (pure).
import type {
  HttpMatch,
  HttpRouteGroupMatch,
  HttpRouteGroupModel,
  MatchedTrafficSplitModel,
  VirtualServiceModel,
} from './types.ts';

/** An HTTPRouteGroup match as a route match: path regex, methods and header regexes (full matches). */
export function routeGroupMatch(m: HttpRouteGroupMatch): HttpMatch {
  return {
    name: m.name,
    ...(m.pathRegex === undefined ? {} : { uri: { regex: m.pathRegex } }),
    ...(m.methods === undefined ? {} : { method: { regex: m.methods.join('|') } }),
    ignoreUriCase: false,
    headers: Object.entries(m.headers ?? {}).map(([name, regex]) => ({
      name,
      match: { regex },
      invert: false,
    })),
    queryParams: [],
  };
}

/**
 * The VirtualService of a matched split: requests matching any match of the named groups go to
 * the backends, every other request to the root service. Groups that do not exist add no
 * match; with none at all, every request goes to the root service.
 */
export function matchedSplitVirtualService(
  matched: MatchedTrafficSplitModel,
  groups: readonly HttpRouteGroupModel[],
): VirtualServiceModel {
  const { split } = matched;
  const matches = matched.routeGroups.flatMap(
    (ref) =>
      groups
        .find((g) => g.namespace === ref.namespace && g.name === ref.name)
        ?.matches.map(routeGroupMatch) ?? [],
  );
  const root = split.hosts[0];
  const rest = {
    name: `${split.namespace}/${split.name}/root`,
    matches: [],
    route: [{ host: root, weight: 100 }],
    mirrors: [],
  };
  return {
    ...split,
    http: matches.length === 0 ? [rest] : [{ ...split.http[0], matches }, rest],
  };
}
