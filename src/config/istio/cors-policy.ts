// Istio `http[].corsPolicy` → CorsPolicy: origins (and the deprecated allowOrigin), methods, headers, max age, credentials.
import type { CorsPolicy, StringMatch } from '../../model/types.ts';
import type { Reader } from '../read.ts';
import { boolean, defined, duration, list, nonEmptyString, object, oneOf, stringList } from '../read.ts';
import { stringMatch } from './string-match.ts';

/** A deprecated `allowOrigin` entry: `*` is any origin, anything else that origin exactly (as Istio reads it). */
function legacyOrigin(origin: string): StringMatch {
  return origin === '*' ? { regex: '.*' } : { exact: origin };
}

export const corsPolicy: Reader<CorsPolicy> = object((f) => {
  const origins = f.optional('allowOrigins', list(stringMatch)) ?? [];
  const legacy = f.optional('allowOrigin', list(nonEmptyString));
  if (legacy !== undefined) {
    if (f.has('allowOrigins'))
      f.check.error(f.at('allowOrigin'), 'set either allowOrigins or allowOrigin, not both');
    else f.check.warn(f.at('allowOrigin'), 'deprecated in Istio; use allowOrigins (exact, prefix or regex)');
  }
  const maxAgeMs = f.optional('maxAge', duration(0));
  return defined<CorsPolicy>({
    allowOrigins: legacy !== undefined && !f.has('allowOrigins') ? legacy.map(legacyOrigin) : origins,
    allowMethods: f.optional('allowMethods', stringList) ?? [],
    allowHeaders: f.optional('allowHeaders', stringList) ?? [],
    exposeHeaders: f.optional('exposeHeaders', stringList) ?? [],
    maxAgeSeconds: maxAgeMs === undefined ? undefined : Math.floor(maxAgeMs / 1000),
    allowCredentials: f.optional('allowCredentials', boolean) ?? false,
    unmatchedPreflights:
      f.optional('unmatchedPreflights', oneOf(['FORWARD', 'IGNORE', 'UNSPECIFIED'] as const)) === 'IGNORE'
        ? 'IGNORE'
        : 'FORWARD',
  });
});
