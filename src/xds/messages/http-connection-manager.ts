// Typed shape of `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager` as weft generates it.
import type { BoolValue, ConfigSource, Http2ProtocolOptions } from './core.ts';
import type { HttpFilter } from './http-filters.ts';
import type { RouteConfiguration } from './route.ts';

/** `extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`. */
export type HttpConnectionManager = {
  stat_prefix?: string;
  codec_type?: 'AUTO' | 'HTTP1' | 'HTTP2';
  http_filters: HttpFilter[];
  upgrade_configs?: { upgrade_type: string }[];
  http2_protocol_options?: Http2ProtocolOptions;
  strip_any_host_port?: boolean;
  use_remote_address?: BoolValue;
  normalize_path?: BoolValue;
  merge_slashes?: boolean;
  path_with_escaped_slashes_action?:
    | 'KEEP_UNCHANGED'
    | 'REJECT_REQUEST'
    | 'UNESCAPE_AND_REDIRECT'
    | 'UNESCAPE_AND_FORWARD';
  forward_client_cert_details?:
    | 'SANITIZE'
    | 'FORWARD_ONLY'
    | 'APPEND_FORWARD'
    | 'SANITIZE_SET'
    | 'ALWAYS_FORWARD_ONLY';
  set_current_client_cert_details?: { subject?: BoolValue; uri?: boolean; dns?: boolean };
} & (
  | { rds: { config_source: ConfigSource; route_config_name: string } }
  | { route_config: RouteConfiguration }
);
