// Linkerd HTTPLocalRateLimitPolicy (policy.linkerd.io/v1alpha1): `total.requestsPerSecond` on a service's inbound side.
import type { RateLimitModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel } from '../names.ts';
import { integer, nonEmptyString, object, oneOf, readObject } from '../read.ts';
import { bucketFor } from '../weft/rate-limit.ts';

/**
 * Reads `spec` of an HTTPLocalRateLimitPolicy. Linkerd targets a `Server`; weft has no Server
 * resource, so the target names the service whose sidecars enforce the limit (kind `Server`
 * or `Service`, same namespace). Per-identity limits and overrides are not supported.
 */
export function readHttpLocalRateLimitPolicy(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): RateLimitModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) => {
      const service = f.required(
        'targetRef',
        object((t) => {
          t.optional('group', nonEmptyString);
          t.optional('kind', oneOf(['Server', 'Service']));
          return t.required('name', dnsLabel);
        }),
      );
      const rps = f.optional(
        'total',
        object((t) => t.required('requestsPerSecond', integer(1, 1_000_000_000))),
      );
      if (rps === undefined && !f.has('total'))
        f.check.error(f.at('total'), 'weft supports total.requestsPerSecond only; set it', 'missing');
      if (service === undefined || rps === undefined) return undefined;
      return {
        name: context.name,
        namespace: context.namespace,
        kind: 'HTTPLocalRateLimitPolicy',
        host: `${service}.${context.namespace}.svc.${context.domainSuffix}`,
        // Linkerd's limiter lets a second's worth of requests through at once.
        ...bucketFor(rps, 1_000, rps),
      };
    },
    {
      unsupported: {
        identity: 'per-identity limits are not implemented; use total',
        overrides: 'per-client overrides are not implemented; use total',
      },
    },
  );
}
