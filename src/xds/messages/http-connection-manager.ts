// Typed shape of `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager` as weft generates it.
import type { WireStruct } from '../struct.ts';
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
  access_log?: AccessLog[];
  tracing?: Tracing;
} & (
  | { rds: { config_source: ConfigSource; route_config_name: string } }
  | { route_config: RouteConfiguration }
);

/** `config.accesslog.v3.AccessLog` with the file access logger (the one weft implements). */
export type AccessLog = {
  name: 'envoy.access_loggers.file';
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
    path: string;
    log_format: { text_format_source: { inline_string: string } } | { json_format: WireStruct };
  };
};

/** HCM `tracing` with the OpenTelemetry tracer exporting over OTLP/HTTP (the one weft implements). */
export type Tracing = {
  random_sampling: { value: number };
  provider: {
    name: 'envoy.tracers.opentelemetry';
    typed_config: {
      '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
      http_service: { http_uri: { uri: string; cluster: string; timeout: { seconds: number } } };
      service_name: string;
    };
  };
};
