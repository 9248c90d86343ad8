// envoy.filters.http.cors configs: the listener's Cors (empty) and a route's CorsPolicy, parsed once.
import { checkFields, list, type Msg, str, unsupported, wrappedBool } from '../../../common/fields.ts';
import { compileStringMatcher, type StringMatcher } from '../../router/matchers.ts';

export const CORS_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** A compiled CorsPolicy. */
export interface CorsConfig {
  origins: StringMatcher[];
  /** Header values as Envoy sends them (comma lists), empty when not set. */
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
  /** A preflight from an origin not allowed goes upstream (true, Envoy's default) or gets a bare 200. */
  forwardNotMatchingPreflights: boolean;
}

/** The listener-level Cors message has no settings weft implements (policies come per route). */
export function checkCorsFilter(c: Msg, where: string): void {
  checkFields(c, where, []);
}

export function compileCorsPolicy(c: Msg, where: string): CorsConfig {
  checkFields(c, where, [
    'allowOriginStringMatch',
    'allowMethods',
    'allowHeaders',
    'exposeHeaders',
    'maxAge',
    'allowCredentials',
    'forwardNotMatchingPreflights',
    'filterEnabled',
  ]);
  if (c.filterEnabled !== undefined && c.filterEnabled !== null) unsupported(where, 'filter_enabled');
  return {
    origins: list(c.allowOriginStringMatch).map((m, i) =>
      compileStringMatcher(m, `${where}.allow_origin_string_match[${i}]`),
    ),
    allowMethods: str(c.allowMethods),
    allowHeaders: str(c.allowHeaders),
    exposeHeaders: str(c.exposeHeaders),
    maxAge: str(c.maxAge),
    allowCredentials: wrappedBool(c.allowCredentials, false),
    forwardNotMatchingPreflights: wrappedBool(c.forwardNotMatchingPreflights, true),
  };
}
