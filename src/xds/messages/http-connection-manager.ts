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
} & (
  | { rds: { config_source: ConfigSource; route_config_name: string } }
  | { route_config: RouteConfiguration }
);
