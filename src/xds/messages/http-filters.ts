// Typed shapes of the HTTP filters' configs weft uses: router, fault, CORS, local rate limits, RBAC, jwt_authn.

import type { WireStruct } from '../struct.ts';
import type { CONFIG_TYPE, Typed } from '../type-urls.ts';
import type {
  BoolValue,
  CidrRange,
  DataSource,
  Duration,
  Empty,
  FractionalPercent,
  HttpUri,
  MetadataMatcher,
  NumberValue,
  RuntimeFractionalPercent,
  StringMatcher,
} from './core.ts';
import type { HeaderMatcher, RouteMatch } from './route-match.ts';

/** `extensions.filters.http.fault.v3.HTTPFault`. */
export type HttpFault = {
  delay?: { fixed_delay: Duration; percentage: FractionalPercent };
  abort?: { percentage: FractionalPercent } & ({ http_status: number } | { grpc_status: number });
};

/** `extensions.filters.http.local_ratelimit.v3.LocalRateLimit`. */
export type LocalRateLimit = {
  stat_prefix: string;
  token_bucket?: { max_tokens: number; tokens_per_fill: NumberValue; fill_interval: Duration };
  filter_enabled?: RuntimeFractionalPercent;
  filter_enforced?: RuntimeFractionalPercent;
  enable_x_ratelimit_headers?: 'OFF' | 'DRAFT_VERSION_03';
};

/**
 * Linkerd's `io.linkerd.proxy.inbound.HttpLocalRateLimit` (linkerd2-proxy-api) in proto3 JSON
 * form, as a TypedStruct's value: `total`, then `overrides` for named client identities, else
 * `identity` per client (requests per second each).
 */
export type LinkerdHttpLocalRateLimit = {
  total?: { requestsPerSecond: number };
  identity?: { requestsPerSecond: number };
  overrides?: { limit: { requestsPerSecond: number }; clients: { identities: { name: string }[] } }[];
};

/** `xds.type.v3.TypedStruct`: a config whose message weft's proxy knows by `type_url`, as a Struct. */
export type TypedStruct<Url extends string> = { type_url: Url; value: WireStruct };

/** `config.rbac.v3.Permission`: what a request asks for. */
export type Permission =
  | { any: boolean }
  | { and_rules: { rules: Permission[] } }
  | { or_rules: { rules: Permission[] } }
  | { not_rule: Permission }
  | { header: HeaderMatcher }
  | { url_path: { path: StringMatcher } }
  | { destination_ip: CidrRange }
  | { destination_port: number }
  | { requested_server_name: StringMatcher }
  | { metadata: MetadataMatcher };

/** `config.rbac.v3.Principal`: who asks. */
export type Principal =
  | { any: boolean }
  | { and_ids: { ids: Principal[] } }
  | { or_ids: { ids: Principal[] } }
  | { not_id: Principal }
  | { authenticated: { principal_name: StringMatcher } }
  | { direct_remote_ip: CidrRange }
  | { remote_ip: CidrRange }
  | { header: HeaderMatcher }
  | { metadata: MetadataMatcher };

/** `config.rbac.v3.Policy`. */
export type RbacPolicy = { permissions: Permission[]; principals: Principal[] };
/** `config.rbac.v3.RBAC`. */
export type RbacRules = { action: 'ALLOW' | 'DENY' | 'LOG'; policies: Record<string, RbacPolicy> };

/** `extensions.filters.http.rbac.v3.RBAC`. */
export type Rbac = { rules?: RbacRules; shadow_rules?: RbacRules; shadow_rules_stat_prefix?: string };

/** `extensions.filters.http.jwt_authn.v3.JwtProvider`. */
export type JwtProvider = {
  issuer: string;
  audiences?: string[];
  local_jwks?: DataSource;
  remote_jwks?: { http_uri: HttpUri; cache_duration?: Duration };
  forward?: boolean;
  from_headers?: { name: string; value_prefix?: string }[];
  from_params?: string[];
  from_cookies?: string[];
  forward_payload_header?: string;
  payload_in_metadata?: string;
  normalize_payload_in_metadata?: { space_delimited_claims: string[] };
  claim_to_headers?: { header_name: string; claim_name: string }[];
};

/** `extensions.filters.http.jwt_authn.v3.JwtRequirement`: one of its kinds. */
export type JwtRequirement =
  | { provider_name: string }
  | { allow_missing: Empty }
  | { requires_any: { requirements: JwtRequirement[] } }
  | { requires_all: { requirements: JwtRequirement[] } };

/** `extensions.filters.http.jwt_authn.v3.JwtAuthentication`. */
export type JwtAuthentication = {
  providers: Record<string, JwtProvider>;
  rules: { match: RouteMatch; requires: JwtRequirement }[];
  bypass_cors_preflight?: boolean;
};

/** `extensions.filters.http.cors.v3.CorsPolicy` (per route). */
export type CorsPolicyConfig = {
  allow_origin_string_match?: StringMatcher[];
  allow_methods?: string;
  allow_headers?: string;
  expose_headers?: string;
  max_age?: string;
  allow_credentials?: BoolValue;
  forward_not_matching_preflights?: BoolValue;
};

/** A listener-level HTTP filter config, packed with its type URL. */
export type HttpFilterConfig =
  | Typed<typeof CONFIG_TYPE.router, Empty>
  | Typed<typeof CONFIG_TYPE.cors, Empty>
  | Typed<typeof CONFIG_TYPE.fault, HttpFault>
  | Typed<typeof CONFIG_TYPE.localRateLimit, LocalRateLimit>
  | Typed<typeof CONFIG_TYPE.rbac, Rbac>
  | Typed<typeof CONFIG_TYPE.jwtAuthn, JwtAuthentication>
  | Typed<typeof CONFIG_TYPE.typedStruct, TypedStruct<typeof CONFIG_TYPE.linkerdHttpLocalRateLimit>>;

/** A route's `typed_per_filter_config` value. */
export type PerRouteFilterConfig =
  | Typed<typeof CONFIG_TYPE.fault, HttpFault>
  | Typed<typeof CONFIG_TYPE.corsPolicy, CorsPolicyConfig>
  | Typed<typeof CONFIG_TYPE.localRateLimit, LocalRateLimit>;

/** `HttpConnectionManager.HttpFilter`. */
export type HttpFilter = { name: string; typed_config: HttpFilterConfig };
