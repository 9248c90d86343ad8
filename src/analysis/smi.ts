// SMI references `weft analyze` checks: HTTPRouteGroups named by TrafficSplits that no resource defines.
import type { ResourceKey } from '../config/resource.ts';
import type { HttpRouteGroupModel, MatchedTrafficSplitModel } from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** A TrafficSplit with `matches`, as read. */
export interface ReadMatchedSplit {
  key: ResourceKey;
  model: MatchedTrafficSplitModel;
}

/**
 * A TrafficSplit's `matches[]` naming an HTTPRouteGroup that does not exist matches no request:
 * nothing of the root service's traffic is split.
 */
export function routeGroupsNotFound(
  splits: readonly ReadMatchedSplit[],
  groups: readonly HttpRouteGroupModel[],
): AnalysisFinding[] {
  const known = new Set(groups.map((g) => `${g.namespace}/${g.name}`));
  return splits.flatMap((split) =>
    split.model.routeGroups.flatMap((ref, i) =>
      known.has(`${ref.namespace}/${ref.name}`)
        ? []
        : [
            {
              code: 'RouteGroupNotFound' as const,
              resource: split.key,
              path: ['spec', 'matches', i, 'name'],
              message: `no HTTPRouteGroup ${ref.name} in namespace ${ref.namespace}: it matches no request, so its share of the split is never taken`,
              hint: `apply an HTTPRouteGroup named ${ref.name} in ${ref.namespace}, or fix the name`,
            },
          ],
    ),
  );
}
