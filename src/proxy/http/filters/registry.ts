// HTTP filters by Envoy type URL. The connection manager builds its chain from this table.
import { structToJson, type WireStruct } from '../../../xds/struct.ts';
import { checkFields, type Msg, str } from '../../common/fields.ts';
import { corsFilterFactory, corsPolicyFactory } from './cors/cors-filter.ts';
import { faultFilterFactory } from './fault/fault-filter.ts';
import type { HttpFilterFactory } from './filter.ts';
import { identityRateLimitFilterFactory } from './identity-ratelimit/identity-ratelimit-filter.ts';
import { jwtAuthnFilterFactory } from './jwt-authn/jwt-authn-filter.ts';
import { localRateLimitFilterFactory } from './local-ratelimit/ratelimit-filter.ts';
import { rbacFilterFactory } from './rbac/rbac-filter.ts';

export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** The router: terminal, built into the connection manager; its config only toggles stats/headers. */
const router: HttpFilterFactory = {
  typeUrl: ROUTER_TYPE_URL,
  terminal: true,
  parse(_name, config, where) {
    checkFields(config, where, [
      'dynamicStats',
      'startChildSpan',
      'suppressEnvoyHeaders',
      'suppressGrpcRequestFailureCodeStats',
    ]);
    return undefined;
  },
};

/** Registered filters; later issues (authn, authz, rate limit, fault, stats) add theirs here. */
export const HTTP_FILTERS: Map<string, HttpFilterFactory> = new Map([
  [router.typeUrl, router],
  [rbacFilterFactory.typeUrl, rbacFilterFactory],
  [jwtAuthnFilterFactory.typeUrl, jwtAuthnFilterFactory],
  [corsFilterFactory.typeUrl, corsFilterFactory],
  [corsPolicyFactory.typeUrl, corsPolicyFactory],
  [faultFilterFactory.typeUrl, faultFilterFactory],
  [localRateLimitFilterFactory.typeUrl, localRateLimitFilterFactory],
  [identityRateLimitFilterFactory.typeUrl, identityRateLimitFilterFactory],
]);

const TYPED_STRUCT = 'type.googleapis.com/xds.type.v3.TypedStruct';

/**
 * A filter's typed_config with a TypedStruct (a config that is not an Envoy message) opened:
 * its `type_url` as `@type`, its Struct as the fields. Other configs are returned as they are.
 */
export function openTypedStruct(config: Msg, where: string): Msg {
  if (config['@type'] !== TYPED_STRUCT) return config;
  checkFields(config, where, ['typeUrl', 'value']);
  return { ...structToJson(config.value as WireStruct | undefined), '@type': str(config.typeUrl) };
}
