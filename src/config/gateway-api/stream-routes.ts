// Gateway API TCPRoute and TLSRoute → GatewayApiRouteModel with `streams`: every connection to the weighted backends.
import type { GatewayApiRouteModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import type { Reader } from '../read.ts';
import { list, nonEmptyString, object, readObject } from '../read.ts';
import type { BackendRefValue } from './common.ts';
import { backendRef, hostname, routeParents } from './common.ts';
import { percentWeights } from './rules.ts';

function rule(context: ResourceContext): Reader<BackendRefValue[]> {
  return object((f) => {
    f.optional('name', nonEmptyString);
    return f.required('backendRefs', list(backendRef(context, { filters: false }), { nonEmpty: true }));
  });
}

/**
 * Reads `spec` of a TCPRoute (`parentRefs`, `rules[].backendRefs`) or TLSRoute (also
 * `hostnames`, matched against the ClientHello's SNI). Connections go to the first rule's
 * backends by weight, as Istio does; further rules are refused rather than ignored.
 */
export function readStreamRoute(
  kind: 'TCPRoute' | 'TLSRoute',
): (check: Check, spec: unknown, context: ResourceContext) => GatewayApiRouteModel | undefined {
  return (check, spec, context) =>
    readObject(check, spec, ['spec'], (f) => {
      const parents = routeParents(f, context);
      const hostnames =
        kind === 'TLSRoute' ? [...new Set(f.optional('hostnames', list(hostname)) ?? [])] : [];
      const rules = f.required('rules', list(rule(context), { nonEmpty: true })) ?? [];
      if (rules.length > 1)
        check.error(
          ['spec', 'rules', 1],
          `a ${kind} with several rules is not supported by weft: put every backend in one rule`,
          'unsupported',
        );
      if (rules.length === 0) return undefined;
      return {
        kind,
        name: context.name,
        namespace: context.namespace,
        parents,
        hostnames,
        rules: [],
        streams: percentWeights(rules[0]),
      };
    });
}
