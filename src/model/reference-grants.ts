// Gateway API ReferenceGrants: a route's backends in other namespaces are used only when a grant there permits it.

import type { GatewayApiRouteModel, HttpRoute, ReferenceGrantModel, RouteDestination } from './types.ts';
import { toPercentages } from './weights.ts';

const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** The namespace and name of a Service hostname (`name.ns.svc.<suffix>`), as backendRefs produce them. */
function serviceOf(host: string): { namespace: string; name: string } | undefined {
  const [name, namespace, svc] = host.split('.');
  return svc === 'svc' && namespace !== undefined ? { namespace, name } : undefined;
}

/** Whether a grant in the Service's namespace lets routes of `route`'s kind and namespace use it. */
export function isPermitted(
  route: GatewayApiRouteModel,
  host: string,
  grants: readonly ReferenceGrantModel[],
): boolean {
  const service = serviceOf(host);
  if (service === undefined || service.namespace === route.namespace) return true;
  return grants.some(
    (g) =>
      g.namespace === service.namespace &&
      g.from.some(
        (f) => f.group === GATEWAY_API_GROUP && f.kind === route.kind && f.namespace === route.namespace,
      ) &&
      g.to.some(
        (t) => t.group === '' && t.kind === 'Service' && (t.name === undefined || t.name === service.name),
      ),
  );
}

/** The destinations' weights scaled back to percentages that add up to 100. */
function rescale(destinations: readonly RouteDestination[]): RouteDestination[] {
  const percentages = toPercentages(destinations.map((d) => d.weight));
  return destinations.map((d, i) => ({ ...d, weight: percentages[i] }));
}

/**
 * One rule with its not-permitted backends taken out, as the spec says: the share of requests
 * they would have had gets a 500 (a fault abort of that percentage), the rest go to the
 * permitted backends in their proportions; mirrors to them are dropped.
 */
function permittedRule(
  route: GatewayApiRouteModel,
  rule: HttpRoute,
  grants: readonly ReferenceGrantModel[],
): HttpRoute {
  const mirrors = rule.mirrors.filter((m) => isPermitted(route, m.host, grants));
  if (rule.route === undefined) return mirrors.length === rule.mirrors.length ? rule : { ...rule, mirrors };
  const allowed = rule.route.filter((d) => isPermitted(route, d.host, grants));
  if (allowed.length === rule.route.length && mirrors.length === rule.mirrors.length) return rule;
  const { route: _destinations, retries: _retries, timeoutMs: _timeout, rewrite: _rewrite, ...rest } = rule;
  const refused = 100 - allowed.reduce((sum, d) => sum + d.weight, 0);
  if (allowed.length === 0 || refused >= 100) return { ...rest, mirrors, directResponse: { status: 500 } };
  return {
    ...rule,
    mirrors,
    route: rescale(allowed),
    fault: { abort: { httpStatus: 500, percentage: refused } },
  };
}

/** `route` with every backend another namespace has not granted it replaced as `permittedRule` says. */
export function withReferenceGrants(
  route: GatewayApiRouteModel,
  grants: readonly ReferenceGrantModel[],
): GatewayApiRouteModel {
  const rules = route.rules.map((r) => {
    const rule = permittedRule(route, r.route, grants);
    return rule === r.route ? r : { ...r, route: rule };
  });
  // TCP and TLS connections cannot be answered 500: the backends not granted are left out.
  const streams = route.streams?.filter((d) => isPermitted(route, d.host, grants));
  const sameStreams = streams === undefined || streams.length === route.streams?.length;
  if (rules.every((r, i) => r === route.rules[i]) && sameStreams) return route;
  return { ...route, rules, ...(streams === undefined ? {} : { streams: rescale(streams) }) };
}
