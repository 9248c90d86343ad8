// Typed shapes of `envoy.config.cluster.v3.Cluster`, its upstream HTTP protocol options and `config.endpoint.v3.ClusterLoadAssignment`.

import type { WireStruct } from '../struct.ts';
import type { CONFIG_TYPE, Typed } from '../type-urls.ts';
import type {
  Address,
  CommonHttpProtocolOptions,
  ConfigSource,
  Duration,
  HealthStatus,
  Http1ProtocolOptions,
  Http2ProtocolOptions,
  Locality,
  Metadata,
  NumberValue,
} from './core.ts';
import type { TransportSocket } from './tls.ts';

/** `LbEndpoint`. */
export type LbEndpoint = {
  endpoint: { address: Address };
  health_status?: HealthStatus;
  load_balancing_weight?: NumberValue;
  metadata?: Metadata;
};

/** `LocalityLbEndpoints`. */
export type LocalityLbEndpoints = {
  locality?: Locality;
  load_balancing_weight?: NumberValue;
  lb_endpoints: LbEndpoint[];
};

/** `ClusterLoadAssignment` (EDS, or inline in a STATIC / DNS cluster). */
export type ClusterLoadAssignment = { cluster_name: string; endpoints?: LocalityLbEndpoints[] };

/** `extensions.upstreams.http.v3.HttpProtocolOptions`: which HTTP version upstream. */
export type HttpProtocolOptions = {
  common_http_protocol_options?: CommonHttpProtocolOptions;
  explicit_http_config?:
    | { http_protocol_options: Http1ProtocolOptions }
    | { http2_protocol_options: Http2ProtocolOptions };
  use_downstream_protocol_config?: {
    http_protocol_options?: Http1ProtocolOptions;
    http2_protocol_options?: Http2ProtocolOptions;
  };
};

/** `CircuitBreakers.Thresholds`. */
export type CircuitBreakerThresholds = {
  max_connections?: NumberValue;
  max_pending_requests?: NumberValue;
  max_requests?: NumberValue;
  max_retries?: NumberValue;
  track_remaining?: boolean;
  retry_budget?: { budget_percent: NumberValue; min_retry_concurrency: NumberValue };
};

/** `OutlierDetection`. */
export type OutlierDetection = {
  consecutive_5xx?: NumberValue;
  enforcing_consecutive_5xx?: NumberValue;
  consecutive_gateway_failure?: NumberValue;
  enforcing_consecutive_gateway_failure?: NumberValue;
  consecutive_local_origin_failure?: NumberValue;
  enforcing_consecutive_local_origin_failure?: NumberValue;
  split_external_local_origin_errors?: boolean;
  enforcing_success_rate?: NumberValue;
  failure_percentage_threshold?: NumberValue;
  enforcing_failure_percentage?: NumberValue;
  failure_percentage_minimum_hosts?: NumberValue;
  failure_percentage_request_volume?: NumberValue;
  interval?: Duration;
  base_ejection_time?: Duration;
  max_ejection_percent?: NumberValue;
};

/** `Cluster.TransportSocketMatch`. */
export type TransportSocketMatch = { name: string; match: WireStruct; transport_socket: TransportSocket };

/** `Cluster`. */
export type Cluster = {
  name: string;
  type?: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
  eds_cluster_config?: { eds_config: ConfigSource; service_name: string };
  load_assignment?: ClusterLoadAssignment;
  connect_timeout?: Duration;
  lb_policy?: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RING_HASH' | 'RANDOM' | 'MAGLEV' | 'CLUSTER_PROVIDED';
  ring_hash_lb_config?: { minimum_ring_size: NumberValue };
  maglev_lb_config?: { table_size: NumberValue };
  common_lb_config?: { healthy_panic_threshold: { value: number } };
  circuit_breakers?: { thresholds: CircuitBreakerThresholds[] };
  outlier_detection?: OutlierDetection;
  metadata?: Metadata;
  typed_extension_protocol_options?: Record<
    string,
    Typed<typeof CONFIG_TYPE.httpProtocolOptions, HttpProtocolOptions>
  >;
  transport_socket?: TransportSocket;
  transport_socket_matches?: TransportSocketMatch[];
};
