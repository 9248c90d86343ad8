// Typed shapes of the Envoy v3 core and matcher messages weft uses (protobufjs object form: snake_case, enums as names).
import type { WireStruct } from '../struct.ts';

/** `google.protobuf.Duration`; `{}` is zero (for timeouts: disabled). */
export type Duration = { seconds?: number; nanos?: number };
/** `google.protobuf.UInt32Value`, `Int32Value`, `DoubleValue`... */
export type NumberValue = { value: number };
/** `google.protobuf.BoolValue`. */
export type BoolValue = { value: boolean };
/** `google.protobuf.Empty` and the empty config messages (`RawBuffer`, `Router` as weft sends it...). */
export type Empty = Record<never, never>;

/** `config.core.v3.Metadata`: per filter namespace, a Struct. */
export type Metadata = { filter_metadata?: Record<string, WireStruct> };

/** `config.core.v3.SocketAddress` (TCP). */
export type SocketAddress = { address: string; port_value: number };
/** `config.core.v3.Address`. */
export type Address = { socket_address: SocketAddress };

/** `config.core.v3.Locality`. */
export type Locality = { region?: string; zone?: string; sub_zone?: string };

/** `config.core.v3.ConfigSource`: weft only uses ADS. */
export type ConfigSource = { ads: Empty; resource_api_version: 'V3' };

/** `config.core.v3.DataSource`. A missing file name is sent as an empty DataSource (which a proxy refuses). */
export type DataSource = { filename?: string } | { inline_string: string };

/** `config.core.v3.HeaderValue`. */
export type HeaderValue = { key: string; value: string };
/** `config.core.v3.HeaderValueOption`. */
export type HeaderValueOption = {
  header: HeaderValue;
  append_action?:
    | 'APPEND_IF_EXISTS_OR_ADD'
    | 'ADD_IF_ABSENT'
    | 'OVERWRITE_IF_EXISTS_OR_ADD'
    | 'OVERWRITE_IF_EXISTS';
};

/** `config.core.v3.CidrRange`. */
export type CidrRange = { address_prefix: string; prefix_len: NumberValue };

/** `config.core.v3.HttpUri`. */
export type HttpUri = { uri: string; cluster: string; timeout: Duration };

/** `config.core.v3.Http1ProtocolOptions` (weft sets none of its fields). */
export type Http1ProtocolOptions = Empty;
/** `config.core.v3.Http2ProtocolOptions`. */
export type Http2ProtocolOptions = { allow_connect?: boolean };

/** `config.core.v3.HttpProtocolOptions` (common to both HTTP versions). */
export type CommonHttpProtocolOptions = {
  idle_timeout?: Duration;
  max_connection_duration?: Duration;
  max_requests_per_connection?: NumberValue;
};

/** `config.core.v3.HealthStatus`. */
export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

/** `type.v3.FractionalPercent`. */
export type FractionalPercent = { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' };
/** `config.core.v3.RuntimeFractionalPercent`. */
export type RuntimeFractionalPercent = { default_value: FractionalPercent; runtime_key: string };

/** `type.matcher.v3.RegexMatcher` (RE2). */
export type RegexMatcher = { regex: string };

/** `type.matcher.v3.StringMatcher`: one of exact, prefix, suffix, safe_regex, contains. */
export type StringMatcher = (
  | { exact: string }
  | { prefix: string }
  | { suffix: string }
  | { contains: string }
  | { safe_regex: RegexMatcher }
) & { ignore_case?: boolean };

/** `type.matcher.v3.ListMatcher`. */
export type ListMatcher = { one_of: ValueMatcher };
/** `type.matcher.v3.OrMatcher` of value matchers. */
export type OrMatcher = { value_matchers: ValueMatcher[] };
/** `type.matcher.v3.ValueMatcher`: one of its kinds. */
export type ValueMatcher =
  | { string_match: StringMatcher }
  | { list_match: ListMatcher }
  | { or_match: OrMatcher }
  | { present_match: boolean };

/** `type.matcher.v3.MetadataMatcher`: a value at a key path of a filter's dynamic metadata. */
export type MetadataMatcher = {
  filter: string;
  path: { key: string }[];
  value: ValueMatcher;
  invert?: boolean;
};
