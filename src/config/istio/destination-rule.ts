// Istio DestinationRule → DestinationRuleModel (host qualified, subsets and policies checked).
import type { DestinationRuleModel, Subset } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { dnsLabel, labels } from '../names.ts';
import { defined, object, readObject } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { exportTo, host, uniqueList } from './common.ts';
import { trafficPolicy } from './traffic-policy.ts';

const subset = object((f) =>
  defined<Subset>({
    name: f.required('name', dnsLabel) ?? '',
    labels: f.optional('labels', labels) ?? {},
    trafficPolicy: f.optional('trafficPolicy', trafficPolicy),
  }),
);

/** Reads `spec` of a DestinationRule named by `context`. */
export function readDestinationRule(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): DestinationRuleModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) =>
      defined<DestinationRuleModel>({
        name: context.name,
        namespace: context.namespace,
        host: f.required('host', host(context, { wildcard: true })) ?? '',
        subsets:
          f.optional(
            'subsets',
            uniqueList(subset, 'name', (s) => s.name),
          ) ?? [],
        trafficPolicy: f.optional('trafficPolicy', trafficPolicy),
        exportTo: f.optional('exportTo', exportTo(context)),
      }),
    {
      unsupported: {
        workloadSelector: 'DestinationRules that apply to selected workloads only are not implemented',
      },
    },
  );
}
