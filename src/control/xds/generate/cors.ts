// Istio's CORS mapping: the CORS filter in client-side HCMs and the per-route CorsPolicy of a rule's corsPolicy (or Gateway API CORS filter).
import type { CorsPolicy } from '../../../model/types.ts';
import type { HttpFilter, PerRouteFilterConfig, StringMatcher } from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';

/** The filter name per-route CorsPolicies are keyed by. */
export const CORS_FILTER_NAME = 'envoy.filters.http.cors';

/** The CORS filter as Istio puts it in sidecar and gateway HCMs, before fault and the router; routes carry the policies. */
export const CORS_FILTER: HttpFilter = {
  name: CORS_FILTER_NAME,
  typed_config: { '@type': CONFIG_TYPE.cors },
};

function origin(match: CorsPolicy['allowOrigins'][number]): StringMatcher {
  if ('exact' in match) return { exact: match.exact };
  if ('prefix' in match) return { prefix: match.prefix };
  return { safe_regex: { regex: match.regex } };
}

/** A rule's CORS policy as Envoy's per-route CorsPolicy. */
export function corsConfig(policy: CorsPolicy): PerRouteFilterConfig {
  return {
    '@type': CONFIG_TYPE.corsPolicy,
    allow_origin_string_match: policy.allowOrigins.map(origin),
    ...(policy.allowMethods.length > 0 ? { allow_methods: policy.allowMethods.join(',') } : {}),
    ...(policy.allowHeaders.length > 0 ? { allow_headers: policy.allowHeaders.join(',') } : {}),
    ...(policy.exposeHeaders.length > 0 ? { expose_headers: policy.exposeHeaders.join(',') } : {}),
    ...(policy.maxAgeSeconds === undefined ? {} : { max_age: String(policy.maxAgeSeconds) }),
    allow_credentials: { value: policy.allowCredentials },
    forward_not_matching_preflights: { value: policy.unmatchedPreflights === 'FORWARD' },
  };
}
