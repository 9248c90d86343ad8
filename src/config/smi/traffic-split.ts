// SMI TrafficSplit (split.smi-spec.io) → a VirtualService for the root service: its traffic (or the part matching HTTPRouteGroups) split by relative weight.
import type { MatchedTrafficSplitModel, RouteDestination, VirtualServiceModel } from '../../model/types.ts';
import { toPercentages } from '../../model/weights.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { host } from '../istio/common.ts';
import { dnsSubdomain } from '../names.ts';
import type { Reader } from '../read.ts';
import { integer, list, object, oneOf, readObject } from '../read.ts';

/**
 * A v1alpha1 weight: a Kubernetes quantity (`50`, `"500m"`, `"1"`), read in thousandths (weights
 * are relative, so the unit does not matter).
 */
const quantity: Reader<number> = (check, value, path) => {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  const milli = m ? Math.round(Number(m[1]) * (m[2] === 'm' ? 1 : 1000)) : Number.NaN;
  if (!Number.isSafeInteger(milli) || milli > 2 ** 31 - 1) {
    check.error(path, `must be a quantity such as 50 or "500m", got ${JSON.stringify(value)}`);
    return undefined;
  }
  return milli;
};

const backend = (context: ResourceContext): Reader<{ host: string; weight: number }> =>
  object((f) => {
    const to = f.required('service', host(context, { wildcard: false }));
    const v1alpha1 = context.apiVersion === 'split.smi-spec.io/v1alpha1';
    const weight = f.required('weight', v1alpha1 ? quantity : integer(0, 2 ** 31 - 1));
    return to === undefined || weight === undefined ? undefined : { host: to, weight };
  });

/** One `matches[]` entry: an HTTPRouteGroup of the split's namespace. */
const routeGroupRef = (context: ResourceContext) =>
  object((m) => {
    m.optional('apiGroup', oneOf(['specs.smi-spec.io']));
    m.required('kind', oneOf(['HTTPRouteGroup']));
    const name = m.required('name', dnsSubdomain);
    return name === undefined ? undefined : { namespace: context.namespace, name };
  });

/** What a TrafficSplit means: a plain split, or one limited to HTTPRouteGroup matches. */
export type TrafficSplitMeaning =
  | { kind: 'VirtualService'; virtualService: VirtualServiceModel }
  | { kind: 'TrafficSplit'; matchedSplit: MatchedTrafficSplitModel };

/**
 * Reads `spec` of a TrafficSplit: requests for `service` (every port) go to the `backends`
 * services in proportion to their weights (relative; 0 sends nothing), as SMI says. With
 * `matches`, only requests matching one of the named HTTPRouteGroups are split; the others go
 * to the root service.
 */
export function readTrafficSplit(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): TrafficSplitMeaning | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const root = f.required('service', host(context, { wildcard: false }));
    const backends = f.required('backends', list(backend(context), { nonEmpty: true })) ?? [];
    const matches = f.optional('matches', list(routeGroupRef(context), { nonEmpty: true }));
    if (root === undefined || backends.length === 0) return undefined;
    const total = backends.reduce((sum, b) => sum + b.weight, 0);
    if (total === 0) {
      check.error(f.at('backends'), 'every backend weight is 0; give at least one a weight');
      return undefined;
    }
    const percentages = toPercentages(backends.map((b) => b.weight));
    const route: RouteDestination[] = backends
      .map((b, i) => ({ host: b.host, weight: percentages[i] }))
      .filter((d) => d.weight > 0);
    const virtualService: VirtualServiceModel = {
      name: context.name,
      namespace: context.namespace,
      hosts: [root],
      gateways: ['mesh'],
      http: [{ name: `${context.namespace}/${context.name}`, matches: [], route, mirrors: [] }],
      tcp: [],
      exportTo: ['*'],
    };
    if (matches === undefined) return { kind: 'VirtualService', virtualService };
    return { kind: 'TrafficSplit', matchedSplit: { split: virtualService, routeGroups: matches } };
  });
}
