// Typed shapes of `envoy.config.route.v3` (RouteConfiguration, VirtualHost, Route and its actions) as weft generates them.
import type { CONFIG_TYPE, Typed } from '../type-urls.ts';
import type {
  BoolValue,
  Duration,
  Empty,
  FractionalPercent,
  HeaderValueOption,
  NumberValue,
  RegexMatcher,
} from './core.ts';
import type { PerRouteFilterConfig } from './http-filters.ts';
import type { RouteMatch } from './route-match.ts';

/** `RouteConfiguration`. */
export type RouteConfiguration = {
  name: string;
  virtual_hosts?: VirtualHost[];
  validate_clusters?: BoolValue;
};

/** `VirtualHost`. */
export type VirtualHost = { name: string; domains: string[]; routes: Route[] };

/** Header edits a Route or a weighted cluster entry may carry. */
export type HeaderEdits = {
  request_headers_to_add?: HeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOption[];
  response_headers_to_remove?: string[];
};

/** `WeightedCluster.ClusterWeight`. */
export type ClusterWeight = { name: string; weight: NumberValue } & HeaderEdits;
/** `WeightedCluster`. */
export type WeightedCluster = { clusters: ClusterWeight[] };

/** `RetryPolicy`. */
export type RetryPolicy = {
  retry_on: string;
  num_retries: NumberValue;
  per_try_timeout?: Duration;
  retry_back_off?: { base_interval: Duration; max_interval?: Duration };
  retriable_status_codes?: number[];
  retry_host_predicate?: { name: string; typed_config: Typed<typeof CONFIG_TYPE.previousHosts, Empty> }[];
  host_selection_retry_max_attempts?: number;
};

/** `RouteAction.HashPolicy`: one of its kinds. */
export type HashPolicy =
  | { header: { header_name: string } }
  | { query_parameter: { name: string } }
  | { cookie: { name: string; path?: string; ttl?: Duration } }
  | { connection_properties: { source_ip: boolean } }
  | { filter_state: { key: string } };

/** `RouteAction.MaxStreamDuration`. */
export type MaxStreamDuration = { max_stream_duration?: Duration; grpc_timeout_header_max?: Duration };

/** `RouteAction.UpgradeConfig`. */
export type RouteUpgradeConfig = { upgrade_type: string; connect_config?: Empty };

/** `RouteAction`: one cluster specifier, then options. */
export type RouteAction = ({ cluster: string } | { weighted_clusters: WeightedCluster }) & {
  timeout?: Duration;
  max_stream_duration?: MaxStreamDuration;
  retry_policy?: RetryPolicy;
  hash_policy?: HashPolicy[];
  prefix_rewrite?: string;
  regex_rewrite?: { pattern: RegexMatcher; substitution: string };
  host_rewrite_literal?: string;
  request_mirror_policies?: { cluster: string; runtime_fraction?: { default_value: FractionalPercent } }[];
  upgrade_configs?: RouteUpgradeConfig[];
};

/** `RedirectAction`. */
export type RedirectAction = {
  https_redirect?: boolean;
  scheme_redirect?: string;
  host_redirect?: string;
  port_redirect?: number;
  path_redirect?: string;
  prefix_rewrite?: string;
  response_code?: 'MOVED_PERMANENTLY' | 'FOUND' | 'SEE_OTHER' | 'TEMPORARY_REDIRECT' | 'PERMANENT_REDIRECT';
  strip_query?: boolean;
};

/** `DirectResponseAction`. */
export type DirectResponseAction = { status: number; body?: { inline_string: string } };

/** `Route`: a match and one action. */
export type Route = {
  name?: string;
  match: RouteMatch;
  typed_per_filter_config?: Record<string, PerRouteFilterConfig>;
} & (
  | { route: RouteAction }
  | { redirect: RedirectAction }
  | { direct_response: DirectResponseAction }
  // A proxyless gRPC server's routes (gRFC A36): the server handles the call itself.
  | { non_forwarding_action: Empty }
) &
  HeaderEdits;
