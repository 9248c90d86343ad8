// weft RateLimit (weft.dev/v1alpha1): a local token-bucket limit on a service's inbound side, optionally one route.
import type { RateLimitModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel } from '../names.ts';
import { integer, nonEmptyString, object, oneOf, readObject } from '../read.ts';

const UNIT_MS = { second: 1_000, minute: 60_000, hour: 3_600_000 } as const;

/** Envoy refills no faster than every 50 ms; slower rates add one token at a time. */
const MIN_FILL_MS = 50;

/**
 * A rate as a token bucket: `requests` per `unitMs`, refilled smoothly (one token every
 * unit/requests, or as many as fall due every 50 ms), holding `burst` tokens.
 */
export function bucketFor(
  requests: number,
  unitMs: number,
  burst: number,
): Pick<RateLimitModel, 'maxTokens' | 'tokensPerFill' | 'fillIntervalMs'> {
  const every = unitMs / requests;
  if (every >= MIN_FILL_MS) return { maxTokens: burst, tokensPerFill: 1, fillIntervalMs: Math.round(every) };
  const tokensPerFill = Math.max(1, Math.round((requests * MIN_FILL_MS) / unitMs));
  return { maxTokens: Math.max(burst, tokensPerFill), tokensPerFill, fillIntervalMs: MIN_FILL_MS };
}

/** Reads `spec` of a weft RateLimit named by `context`. */
export function readRateLimit(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): RateLimitModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const service = f.required(
      'targetRef',
      object((t) => {
        t.optional('kind', oneOf(['Service']));
        return t.required('name', dnsLabel);
      }),
    );
    const route = f.optional('route', nonEmptyString);
    const requests = f.required('requestsPerUnit', integer(1, 1_000_000_000));
    const unit = f.optional('unit', oneOf(['second', 'minute', 'hour'])) ?? 'second';
    const unitMs = UNIT_MS[unit];
    const burst = f.optional('burst', integer(1, 1_000_000_000));
    if (service === undefined || requests === undefined) return undefined;
    // Default burst: one second's worth at the rate (at least one request).
    const size = burst ?? Math.max(1, Math.ceil((requests * 1000) / unitMs));
    return {
      name: context.name,
      namespace: context.namespace,
      kind: 'RateLimit',
      host: `${service}.${context.namespace}.svc.${context.domainSuffix}`,
      ...(route === undefined ? {} : { route }),
      ...bucketFor(requests, unitMs, size),
    };
  });
}
