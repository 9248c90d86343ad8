// Pieces shared by http and tcp routes: weighted destinations (Istio's weight rules) and gateway names.
import type { RouteDestination } from '../../model/types.ts';
import { toPercentages } from '../../model/weights.ts';
import { dnsLabelError, dnsSubdomainError } from '../names.ts';
import type { Reader } from '../read.ts';
import { defined, integer, list, object, string } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { destination, headers } from './common.ts';

/** The name VirtualServices use for "every sidecar in the mesh" in `gateways`. */
export const MESH_GATEWAY = 'mesh';

/**
 * `gateways`: `mesh`, `<ns>/<name>` or `<name>` (a gateway in the VirtualService's namespace,
 * normalised to `<ns>/<name>`).
 */
export function gatewayNames(context: ResourceContext): Reader<string[]> {
  return list((check, value, path) => {
    const text = string(check, value, path);
    if (text === undefined) return undefined;
    if (text === MESH_GATEWAY) return text;
    const [namespace, name, extra] = text.includes('/') ? text.split('/') : [context.namespace, text];
    const error =
      extra !== undefined
        ? `"${text}" is not a gateway name; write mesh, <namespace>/<name> or <name>`
        : (dnsLabelError(namespace) ?? dnsSubdomainError(name));
    if (error === undefined) return `${namespace}/${name}`;
    check.error(path, `gateway ${error}`);
    return undefined;
  });
}

/**
 * `route[]` of an http or tcp route. Istio's rules: with one destination it gets all traffic
 * (weight 100 whatever is written); with more, weights are relative (unset is 0; 1/1 is 50/50,
 * as Istio and Envoy normalise them) and become percentages adding up to 100.
 */
export function weightedRoutes(
  context: ResourceContext,
  options: { headers: boolean },
): Reader<RouteDestination[]> {
  const item = object((f) => {
    const to = f.required('destination', destination(context));
    const weight = f.optional('weight', integer(0, 2 ** 31 - 1));
    const ops = options.headers ? f.optional('headers', headers) : undefined;
    if (to === undefined) return undefined;
    const out = defined<RouteDestination>({
      ...to,
      weight: weight ?? 0,
      headers: ops?.request,
      responseHeaders: ops?.response,
    });
    return { destination: out, weightGiven: f.has('weight') };
  });
  return (check, value, path) => {
    const before = check.issueCount;
    const items = list(item, { nonEmpty: true })(check, value, path);
    if (items === undefined || check.issueCount > before) return undefined;
    const routes = items.filter((entry) => entry !== undefined);
    if (routes.length === 1) {
      const only = routes[0];
      if (only.weightGiven && only.destination.weight !== 100)
        check.warn(
          [...path, 0, 'weight'],
          `a single destination receives all traffic; weight ${only.destination.weight} is read as 100`,
        );
      return [{ ...only.destination, weight: 100 }];
    }
    const weights = routes.map((entry) => entry.destination.weight);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    if (total === 0) {
      check.error(path, `every destination weight is 0 (${weights.join(' + ')}); give at least one a weight`);
      return undefined;
    }
    const percentages = toPercentages(weights);
    if (total !== 100)
      check.warn(
        path,
        `weights are relative: ${weights.join(' + ')} = ${total}, read as ${percentages.map((p) => `${p}%`).join(' / ')}`,
      );
    return routes.map((entry, i) => ({ ...entry.destination, weight: percentages[i] }));
  };
}
