// SMI TrafficTarget (access.smi-spec.io) → TrafficTargetModel: which service accounts may call a destination, on which HTTP routes.
import type { TrafficTargetModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel, dnsSubdomain } from '../names.ts';
import type { Reader } from '../read.ts';
import { describe, list, nonEmptyString, object, readObject } from '../read.ts';

/** Only `ServiceAccount` subjects are supported; IdentityBinding (v1alpha4) is reported as such. */
const serviceAccountKind: Reader<'ServiceAccount'> = (check, value, path) => {
  if (value === 'ServiceAccount') return value;
  if (value === 'IdentityBinding')
    check.error(
      path,
      'kind IdentityBinding is not supported by weft (yet): name a ServiceAccount',
      'unsupported',
    );
  else check.error(path, `must be ServiceAccount, got ${describe(value)}`);
  return undefined;
};

/** `{kind: ServiceAccount, name, namespace}` → service account and namespace (default: `namespace`). */
function subject(namespace: string): Reader<{ serviceAccount: string; namespace: string }> {
  return object(
    (f) => {
      const kind = f.required('kind', serviceAccountKind);
      const name = f.required('name', dnsSubdomain);
      const ns = f.optional('namespace', dnsLabel) ?? namespace;
      return kind === undefined || name === undefined ? undefined : { serviceAccount: name, namespace: ns };
    },
    { unsupported: { port: 'a TrafficTarget covers every port of the destination' } },
  );
}

const ROUTE_KINDS_NOTE = 'only HTTPRouteGroup rules are supported; TCPRoute and UDPRoute are not implemented';

const routeKind: Reader<'HTTPRouteGroup'> = (check, value, path) => {
  if (value === 'HTTPRouteGroup') return value;
  if (value === 'TCPRoute' || value === 'UDPRoute')
    check.error(path, `kind ${value} is not supported by weft (yet): ${ROUTE_KINDS_NOTE}`, 'unsupported');
  else check.error(path, `must be HTTPRouteGroup, got ${describe(value)}`);
  return undefined;
};

const trafficRule: Reader<{ routeGroup: string; matches?: string[] }> = object((f) => {
  const kind = f.required('kind', routeKind);
  const name = f.required('name', dnsSubdomain);
  const matches = f.optional('matches', list(nonEmptyString, { nonEmpty: true }));
  if (kind === undefined || name === undefined) return undefined;
  return matches === undefined ? { routeGroup: name } : { routeGroup: name, matches };
});

/** Reads `spec` of a TrafficTarget named by `context`. */
export function readTrafficTarget(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): TrafficTargetModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const destination = f.required('destination', subject(context.namespace));
    if (destination !== undefined && destination.namespace !== context.namespace)
      check.error(
        f.at('destination'),
        `a TrafficTarget in namespace ${context.namespace} can only name a destination in its own namespace, not ${destination.namespace}`,
      );
    const rules = f.required('rules', list(trafficRule, { nonEmpty: true }));
    const sources = f.required('sources', list(subject(context.namespace), { nonEmpty: true }));
    if (destination === undefined || rules === undefined || sources === undefined) return undefined;
    return {
      name: context.name,
      namespace: context.namespace,
      destination: destination.serviceAccount,
      sources,
      rules,
    };
  });
}
