// Linkerd HTTPLocalRateLimitPolicy (policy.linkerd.io/v1alpha1): total, per-identity and per-client limits on a service's inbound side.
import type { IdentityRateLimitModel, IdentityRateLimitOverride } from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel } from '../names.ts';
import { type Fields, integer, list, nonEmptyString, object, oneOf, readObject } from '../read.ts';

const RATE = integer(1, 1_000_000_000);

/** `{requestsPerSecond: N}`. */
const limit = object((l) => l.required('requestsPerSecond', RATE));

/** One `clientRefs[]` entry: a ServiceAccount, in the policy's namespace unless named. */
function clientRef(namespace: string) {
  return object((c) => {
    c.optional('group', oneOf(['', 'core']));
    c.required('kind', oneOf(['ServiceAccount']));
    const ns = c.optional('namespace', nonEmptyString) ?? namespace;
    const name = c.required('name', dnsLabel);
    return name === undefined ? undefined : { namespace: ns, serviceAccount: name };
  });
}

/** Linkerd's admission rule: no client limit may exceed `total`. */
function notOverTotal(f: Fields, path: FieldPath, rps: number | undefined, total: number | undefined): void {
  if (rps !== undefined && total !== undefined && rps > total)
    f.check.error(path, `${rps} is more than total.requestsPerSecond (${total})`);
}

/**
 * Reads `spec` of an HTTPLocalRateLimitPolicy. Linkerd targets a `Server`: the sidecars of its
 * workloads on its port enforce the limit; when no such Server exists, the target names the
 * service whose sidecars do (kind `Server` or `Service`, same namespace). Clients are told apart
 * by their verified mTLS identity.
 */
export function readHttpLocalRateLimitPolicy(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): IdentityRateLimitModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const target = f.required(
      'targetRef',
      object((t) => {
        t.optional('group', nonEmptyString);
        const kind = t.optional('kind', oneOf(['Server', 'Service']));
        const name = t.required('name', dnsLabel);
        return name === undefined ? undefined : { kind, name };
      }),
    );
    const service = target?.name;
    const total = f.optional('total', limit);
    const identity = f.optional('identity', limit);
    const overrides = f.optional(
      'overrides',
      list(
        object<IdentityRateLimitOverride>((o) => {
          const requestsPerSecond = o.required('requestsPerSecond', RATE);
          const clients = o.required('clientRefs', list(clientRef(context.namespace), { nonEmpty: true }));
          if (requestsPerSecond === undefined || clients === undefined) return undefined;
          return { requestsPerSecond, clients };
        }),
      ),
    );
    if (!f.has('total') && !f.has('identity') && !f.has('overrides'))
      f.check.error(f.at('total'), 'set total, identity or overrides: the policy limits nothing', 'missing');
    notOverTotal(f, [...f.at('identity'), 'requestsPerSecond'], identity, total);
    for (const [i, o] of (overrides ?? []).entries())
      notOverTotal(f, [...f.at('overrides'), i, 'requestsPerSecond'], o.requestsPerSecond, total);
    if (service === undefined) return undefined;
    return {
      name: context.name,
      namespace: context.namespace,
      host: `${service}.${context.namespace}.svc.${context.domainSuffix}`,
      ...(target?.kind === 'Server' ? { serverName: service } : {}),
      ...(total === undefined ? {} : { total }),
      ...(identity === undefined ? {} : { identity }),
      overrides: overrides ?? [],
    };
  });
}
