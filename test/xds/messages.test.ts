// The typed Envoy shapes of src/xds/messages/ name only fields the Envoy protos have: one object per shape, every field and branch set, checked against the protos.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  Cluster,
  ClusterLoadAssignment,
  DownstreamTlsContext,
  HeaderMatcher,
  HttpConnectionManager,
  JwtAuthentication,
  Listener,
  LocalRateLimit,
  Permission,
  Principal,
  Rbac,
  RouteConfiguration,
  Secret,
  StringMatcher,
  TcpProxy,
  ValueMatcher,
} from '../../src/xds/messages/index.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { CONFIG_TYPE, TYPE_URL } from '../../src/xds/type-urls.ts';

const ADS = { ads: {}, resource_api_version: 'V3' } as const;
const SECONDS = { seconds: 1, nanos: 5 };
const STRINGS: StringMatcher[] = [
  { exact: 'a', ignore_case: true },
  { prefix: 'a' },
  { suffix: 'a' },
  { contains: 'a' },
  { safe_regex: { regex: 'a+' } },
];
const HEADERS: HeaderMatcher[] = [
  { name: 'h', string_match: STRINGS[0], invert_match: true },
  { name: 'h', present_match: true },
  { name: 'h', exact_match: 'a' },
  { name: 'h', prefix_match: 'a' },
  { name: 'h', suffix_match: 'a' },
  { name: 'h', safe_regex_match: { regex: 'a+' } },
];
const VALUES: ValueMatcher[] = [
  { string_match: STRINGS[1] },
  { list_match: { one_of: { present_match: true } } },
  { or_match: { value_matchers: [{ string_match: STRINGS[2] }] } },
];
const METADATA = { filter: 'f', path: [{ key: 'k' }], value: VALUES[1], invert: true };
const CIDR = { address_prefix: '10.0.0.0', prefix_len: { value: 8 } };
const PERMISSIONS: Permission[] = [
  { any: true },
  { and_rules: { rules: [{ any: true }] } },
  { or_rules: { rules: [{ any: true }] } },
  { not_rule: { any: true } },
  { header: HEADERS[0] },
  { url_path: { path: STRINGS[4] } },
  { destination_ip: CIDR },
  { destination_port: 80 },
  { requested_server_name: STRINGS[3] },
  { metadata: METADATA },
];
const PRINCIPALS: Principal[] = [
  { any: true },
  { and_ids: { ids: [{ any: true }] } },
  { or_ids: { ids: [{ any: true }] } },
  { not_id: { any: true } },
  { authenticated: { principal_name: STRINGS[0] } },
  { direct_remote_ip: CIDR },
  { remote_ip: CIDR },
  { header: HEADERS[1] },
  { metadata: METADATA },
];
const RBAC: Rbac = {
  rules: { action: 'ALLOW', policies: { p: { permissions: PERMISSIONS, principals: PRINCIPALS } } },
  shadow_rules: { action: 'DENY', policies: {} },
  shadow_rules_stat_prefix: 'dry_',
};
const JWT: JwtAuthentication = {
  providers: {
    a: {
      issuer: 'i',
      audiences: ['x'],
      local_jwks: { inline_string: '{}' },
      forward: true,
      from_headers: [{ name: 'h', value_prefix: 'Bearer ' }],
      from_params: ['t'],
      from_cookies: ['c'],
      forward_payload_header: 'x-payload',
      payload_in_metadata: 'payload',
      normalize_payload_in_metadata: { space_delimited_claims: ['scope'] },
      claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }],
    },
    b: {
      issuer: 'j',
      remote_jwks: {
        http_uri: { uri: 'https://x/', cluster: 'c', timeout: SECONDS },
        cache_duration: SECONDS,
      },
    },
  },
  rules: [
    {
      match: { prefix: '/' },
      requires: {
        requires_any: {
          requirements: [
            { provider_name: 'a' },
            { allow_missing: {} },
            { requires_all: { requirements: [] } },
          ],
        },
      },
    },
  ],
  bypass_cors_preflight: true,
};
const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' as const }, runtime_key: '' };
const RATE_LIMIT: LocalRateLimit = {
  stat_prefix: 'rl',
  token_bucket: { max_tokens: 1, tokens_per_fill: { value: 1 }, fill_interval: SECONDS },
  filter_enabled: ALWAYS,
  filter_enforced: ALWAYS,
  enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
};
const ROUTES: RouteConfiguration = {
  name: 'r',
  validate_clusters: { value: false },
  virtual_hosts: [
    {
      name: 'vh',
      domains: ['*'],
      routes: [
        {
          name: 'forward',
          match: {
            path: '/p',
            case_sensitive: { value: false },
            headers: HEADERS,
            query_parameters: [
              { name: 'q', string_match: STRINGS[0] },
              { name: 'q', present_match: true },
            ],
          },
          route: {
            weighted_clusters: {
              clusters: [
                {
                  name: 'c',
                  weight: { value: 1 },
                  request_headers_to_add: [
                    { header: { key: 'k', value: 'v' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
                  ],
                  request_headers_to_remove: ['x'],
                  response_headers_to_add: [],
                  response_headers_to_remove: [],
                },
              ],
            },
            timeout: SECONDS,
            max_stream_duration: { max_stream_duration: SECONDS, grpc_timeout_header_max: SECONDS },
            retry_policy: {
              retry_on: '5xx',
              num_retries: { value: 1 },
              per_try_timeout: SECONDS,
              retry_back_off: { base_interval: SECONDS, max_interval: SECONDS },
              retriable_status_codes: [503],
              retry_host_predicate: [{ name: 'p', typed_config: { '@type': CONFIG_TYPE.previousHosts } }],
              host_selection_retry_max_attempts: 5,
            },
            hash_policy: [
              { header: { header_name: 'h' } },
              { query_parameter: { name: 'q' } },
              { cookie: { name: 'c', path: '/', ttl: SECONDS } },
              { connection_properties: { source_ip: true } },
            ],
            regex_rewrite: { pattern: { regex: '.*' }, substitution: '/' },
            host_rewrite_literal: 'h',
            request_mirror_policies: [
              { cluster: 'm', runtime_fraction: { default_value: { numerator: 1, denominator: 'MILLION' } } },
            ],
            upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }],
          },
          typed_per_filter_config: {
            fault: {
              '@type': CONFIG_TYPE.fault,
              delay: { fixed_delay: SECONDS, percentage: { numerator: 1, denominator: 'HUNDRED' } },
              abort: { percentage: { numerator: 1, denominator: 'HUNDRED' }, grpc_status: 14 },
            },
            rl: { '@type': CONFIG_TYPE.localRateLimit, ...RATE_LIMIT },
          },
        },
        { match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/' } },
        {
          match: { safe_regex: { regex: '/.*' } },
          redirect: {
            https_redirect: true,
            scheme_redirect: 'https',
            host_redirect: 'h',
            port_redirect: 1,
            path_redirect: '/',
            prefix_rewrite: '/',
            response_code: 'FOUND',
            strip_query: true,
          },
        },
        { match: { connect_matcher: {} }, direct_response: { status: 502, body: { inline_string: 'no' } } },
      ],
    },
  ],
};
const COMMON_TLS = {
  tls_params: {
    tls_minimum_protocol_version: 'TLSv1_2' as const,
    tls_maximum_protocol_version: 'TLSv1_3' as const,
  },
  tls_certificates: [{ certificate_chain: { filename: 'c' }, private_key: { filename: 'k' } }],
  tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: ADS }],
  validation_context: {
    trusted_ca: { filename: 'ca' },
    system_root_certs: {},
    match_typed_subject_alt_names: [{ san_type: 'URI' as const, matcher: STRINGS[0] }],
    match_subject_alt_names: [STRINGS[1]],
  },
  combined_validation_context: {
    default_validation_context: {},
    validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: ADS },
  },
  alpn_protocols: ['h2'],
};
const DOWNSTREAM: DownstreamTlsContext = {
  common_tls_context: COMMON_TLS,
  require_client_certificate: { value: true },
};
const HCM: HttpConnectionManager = {
  stat_prefix: 's',
  codec_type: 'AUTO',
  route_config: ROUTES,
  http_filters: [
    { name: 'f', typed_config: { '@type': CONFIG_TYPE.fault } },
    { name: 'r', typed_config: { '@type': CONFIG_TYPE.rbac, ...RBAC } },
    { name: 'j', typed_config: { '@type': CONFIG_TYPE.jwtAuthn, ...JWT } },
    { name: 'l', typed_config: { '@type': CONFIG_TYPE.localRateLimit, ...RATE_LIMIT } },
    { name: 'router', typed_config: { '@type': CONFIG_TYPE.router } },
  ],
  upgrade_configs: [{ upgrade_type: 'websocket' }],
  http2_protocol_options: { allow_connect: true },
  strip_any_host_port: true,
  use_remote_address: { value: true },
};
const TCP: TcpProxy = { stat_prefix: 't', weighted_clusters: { clusters: [{ name: 'c', weight: 1 }] } };
const LISTENER: Listener = {
  name: 'l',
  address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
  traffic_direction: 'INBOUND',
  listener_filters: [
    { name: 'tls', typed_config: { '@type': CONFIG_TYPE.tlsInspector } },
    { name: 'http', typed_config: { '@type': CONFIG_TYPE.httpInspector } },
  ],
  filter_chains: [
    {
      name: 'c',
      filter_chain_match: {
        destination_port: { value: 1 },
        transport_protocol: 'tls',
        application_protocols: ['h2'],
        server_names: ['a'],
      },
      transport_socket: {
        name: 'tls',
        typed_config: { '@type': CONFIG_TYPE.downstreamTlsContext, ...DOWNSTREAM },
      },
      filters: [{ name: 'hcm', typed_config: { '@type': CONFIG_TYPE.httpConnectionManager, ...HCM } }],
    },
  ],
  default_filter_chain: {
    name: 'd',
    filters: [{ name: 'tcp', typed_config: { '@type': CONFIG_TYPE.tcpProxy, ...TCP } }],
  },
};
const API_LISTENER: Listener = {
  name: 'a',
  api_listener: {
    api_listener: {
      '@type': CONFIG_TYPE.httpConnectionManager,
      rds: { config_source: ADS, route_config_name: 'r' },
      http_filters: [],
    },
  },
};
const ASSIGNMENT: ClusterLoadAssignment = {
  cluster_name: 'c',
  endpoints: [
    {
      locality: { region: 'r', zone: 'z', sub_zone: 's' },
      load_balancing_weight: { value: 1 },
      lb_endpoints: [
        {
          endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } },
          health_status: 'HEALTHY',
          load_balancing_weight: { value: 1 },
          metadata: { filter_metadata: { m: jsonToStruct({ tlsMode: 'istio' }) } },
        },
      ],
    },
  ],
};
const CLUSTER: Cluster = {
  name: 'c',
  type: 'EDS',
  eds_cluster_config: { eds_config: ADS, service_name: 'c' },
  load_assignment: ASSIGNMENT,
  connect_timeout: SECONDS,
  lb_policy: 'RING_HASH',
  ring_hash_lb_config: { minimum_ring_size: { value: 1 } },
  maglev_lb_config: { table_size: { value: 1 } },
  common_lb_config: { healthy_panic_threshold: { value: 0 } },
  circuit_breakers: {
    thresholds: [
      {
        max_connections: { value: 1 },
        max_pending_requests: { value: 1 },
        max_requests: { value: 1 },
        max_retries: { value: 1 },
        track_remaining: true,
        retry_budget: { budget_percent: { value: 1 }, min_retry_concurrency: { value: 1 } },
      },
    ],
  },
  outlier_detection: {
    consecutive_5xx: { value: 1 },
    enforcing_consecutive_5xx: { value: 1 },
    consecutive_gateway_failure: { value: 1 },
    enforcing_consecutive_gateway_failure: { value: 1 },
    consecutive_local_origin_failure: { value: 1 },
    enforcing_consecutive_local_origin_failure: { value: 1 },
    split_external_local_origin_errors: true,
    enforcing_success_rate: { value: 0 },
    interval: SECONDS,
    base_ejection_time: SECONDS,
    max_ejection_percent: { value: 1 },
  },
  metadata: { filter_metadata: { m: jsonToStruct({ a: 1 }) } },
  typed_extension_protocol_options: {
    h: {
      '@type': CONFIG_TYPE.httpProtocolOptions,
      common_http_protocol_options: {
        idle_timeout: SECONDS,
        max_connection_duration: SECONDS,
        max_requests_per_connection: { value: 1 },
      },
      use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
    },
    h2: { '@type': CONFIG_TYPE.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } },
  },
  transport_socket: {
    name: 'tls',
    typed_config: { '@type': CONFIG_TYPE.upstreamTlsContext, sni: 's', common_tls_context: COMMON_TLS },
  },
  transport_socket_matches: [
    {
      name: 'raw',
      match: jsonToStruct({}),
      transport_socket: { name: 'raw', typed_config: { '@type': CONFIG_TYPE.rawBuffer } },
    },
  ],
};
const SECRETS: Secret[] = [
  {
    name: 'default',
    tls_certificate: { certificate_chain: { inline_string: 'c' }, private_key: { inline_string: 'k' } },
  },
  { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: 'ca' } } },
];

const FIXTURES: [string, string, object][] = [
  ['Listener', TYPE_URL.listener, LISTENER],
  ['API Listener', TYPE_URL.listener, API_LISTENER],
  ['RouteConfiguration', TYPE_URL.route, ROUTES],
  ['Cluster', TYPE_URL.cluster, CLUSTER],
  ['ClusterLoadAssignment', TYPE_URL.endpoint, ASSIGNMENT],
  ...SECRETS.map((s): [string, string, object] => [`Secret ${s.name}`, TYPE_URL.secret, s]),
];

test('every field of the typed shapes is a field of the Envoy protos, and round-trips', () => {
  for (const [what, typeUrl, message] of FIXTURES) {
    assert.deepEqual(unknownFields(typeUrl, message), [], what);
    const again = decodeResource(typeUrl, encodeResource(typeUrl, message));
    assert.deepEqual(unknownFields(typeUrl, again), [], `${what} decoded`);
  }
});

test('a misspelt field is caught (the check can fail)', () => {
  const misspelt = { ...CLUSTER, connect_timout: SECONDS };
  assert.deepEqual(unknownFields(TYPE_URL.cluster, misspelt), [
    'connect_timout: no such field in .envoy.config.cluster.v3.Cluster',
  ]);
});
