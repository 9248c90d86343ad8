// CDS generator: outbound clusters per service port and subset (DestinationRule policy mapped as Istio does), and the sidecar's inbound cluster.
import { visibleDestinationRule } from '../../../model/lookup.ts';
import type {
  ConnectionPoolSettings,
  DestinationRuleModel,
  LoadBalancerPolicy,
  OutlierDetectionSettings,
  Protocol,
  RetryBudgetSettings,
  Service,
  ServicePort,
} from '../../../model/types.ts';
import type {
  CircuitBreakerThresholds,
  Cluster,
  ClusterLoadAssignment,
  CommonHttpProtocolOptions,
  HttpProtocolOptions,
  OutlierDetection,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE, type Typed } from '../../../xds/type-urls.ts';
import { ringHashWorks } from './clients.ts';
import {
  ADS_CONFIG_SOURCE,
  duration,
  effectivePolicy,
  endpointPort,
  type GenerateContext,
  type GeneratedResource,
  HTTP_PROTOCOL_OPTIONS_KEY,
  inboundClusterName,
  isHttp2Protocol,
  isHttpProtocol,
  outboundClusterName,
  parseClusterName,
  serviceVisible,
  visibleServices,
} from './common.ts';
import { passthroughCluster } from './egress.ts';
import { grpcClusterTransport } from './grpc-tls.ts';
import { retryRatioMetadata } from './resilience.ts';
import { outboundClusterTransport, serviceIdentities } from './tls.ts';

/** Istio's default connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Istio's default ring size for consistent hashing. */
export const DEFAULT_MINIMUM_RING_SIZE = 1024;
const MAX_UINT32 = 4_294_967_295;

/** Envoy's upstream HTTP protocol options for a port's protocol and pool settings; undefined when none apply. */
function httpProtocolOptions(
  protocol: Protocol,
  pool: ConnectionPoolSettings | undefined,
): Typed<typeof CONFIG_TYPE.httpProtocolOptions, HttpProtocolOptions> | undefined {
  if (!isHttpProtocol(protocol)) return undefined;
  const options: Typed<typeof CONFIG_TYPE.httpProtocolOptions, HttpProtocolOptions> = {
    '@type': CONFIG_TYPE.httpProtocolOptions,
  };
  const common: CommonHttpProtocolOptions = {};
  if (pool?.http?.maxRequestsPerConnection !== undefined) {
    common.max_requests_per_connection = { value: pool.http.maxRequestsPerConnection };
  }
  if (pool?.http?.idleTimeoutMs !== undefined) common.idle_timeout = duration(pool.http.idleTimeoutMs);
  if (pool?.tcp?.maxConnectionDurationMs !== undefined) {
    common.max_connection_duration = duration(pool.tcp.maxConnectionDurationMs);
  }
  if (Object.keys(common).length > 0) options.common_http_protocol_options = common;
  const upgrade = protocol === 'HTTP' && pool?.http?.h2UpgradePolicy === 'UPGRADE';
  if (isHttp2Protocol(protocol) || upgrade) options.explicit_http_config = { http2_protocol_options: {} };
  else if (protocol === 'UNKNOWN') {
    options.use_downstream_protocol_config = { http_protocol_options: {}, http2_protocol_options: {} };
  } else if (options.common_http_protocol_options)
    options.explicit_http_config = { http_protocol_options: {} };
  else return undefined;
  return options;
}

function circuitBreakers(
  pool: ConnectionPoolSettings | undefined,
  budget?: RetryBudgetSettings,
): NonNullable<Cluster['circuit_breakers']> {
  const threshold: CircuitBreakerThresholds = {
    max_connections: { value: pool?.tcp?.maxConnections ?? MAX_UINT32 },
    max_pending_requests: { value: pool?.http?.http1MaxPendingRequests ?? MAX_UINT32 },
    max_requests: { value: pool?.http?.http2MaxRequests ?? MAX_UINT32 },
    max_retries: { value: pool?.http?.maxRetries ?? MAX_UINT32 },
    track_remaining: true,
  };
  if (budget) {
    threshold.retry_budget = {
      budget_percent: { value: budget.percent },
      min_retry_concurrency: { value: budget.minRetryConcurrency },
    };
  }
  return { thresholds: [threshold] };
}

/**
 * What proxyless gRPC clients get for Istio's outlierDetection: gRFC A50 implements no consecutive
 * counters, only success-rate and failure-percentage ejection. `consecutive5xxErrors: N` (else
 * `consecutiveGatewayErrors`) becomes failure-percentage ejection of a host that failed more than
 * 99% of at least N calls in an interval (gRPC ejects above the threshold, so 100 would never
 * eject; any non-OK status is a failure to gRPC); `weft apply` says so.
 */
function grpcOutlierDetection(od: OutlierDetectionSettings): OutlierDetection {
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  const volume = od.consecutive5xxErrors ?? od.consecutiveGatewayErrors;
  if (volume !== undefined && volume > 0) {
    out.failure_percentage_threshold = { value: 99 };
    out.enforcing_failure_percentage = { value: 100 };
    out.failure_percentage_minimum_hosts = { value: 1 };
    out.failure_percentage_request_volume = { value: volume };
  }
  if (od.intervalMs !== undefined) out.interval = duration(od.intervalMs);
  if (od.baseEjectionTimeMs !== undefined) out.base_ejection_time = duration(od.baseEjectionTimeMs);
  if (od.maxEjectionPercent !== undefined) out.max_ejection_percent = { value: od.maxEjectionPercent };
  return out;
}

/** Istio's OutlierDetection → Envoy mapping (success-rate ejection off; each consecutive counter enforced at 100%). */
function outlierDetection(od: OutlierDetectionSettings): OutlierDetection {
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = { value: od.consecutive5xxErrors };
    out.enforcing_consecutive_5xx = { value: od.consecutive5xxErrors > 0 ? 100 : 0 };
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = { value: od.consecutiveGatewayErrors };
    out.enforcing_consecutive_gateway_failure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (od.consecutiveLocalOriginFailures !== undefined) {
    out.consecutive_local_origin_failure = { value: od.consecutiveLocalOriginFailures };
    out.enforcing_consecutive_local_origin_failure = {
      value: od.consecutiveLocalOriginFailures > 0 ? 100 : 0,
    };
  }
  if (od.splitExternalLocalOriginErrors) out.split_external_local_origin_errors = true;
  if (od.intervalMs !== undefined) out.interval = duration(od.intervalMs);
  if (od.baseEjectionTimeMs !== undefined) out.base_ejection_time = duration(od.baseEjectionTimeMs);
  if (od.maxEjectionPercent !== undefined) out.max_ejection_percent = { value: od.maxEjectionPercent };
  return out;
}

/** Sets `lb_policy` and its config on a cluster; gRPC clients only support round robin and ring hash. */
function applyLoadBalancer(
  ctx: GenerateContext,
  cluster: Cluster,
  lb: LoadBalancerPolicy | undefined,
  rule: DestinationRuleModel | undefined,
): void {
  if (!lb) return;
  const grpc = ctx.proxy.kind === 'grpc';
  const where = rule ? `DestinationRule ${rule.namespace}/${rule.name}` : 'a DestinationRule';
  if ('simple' in lb) {
    const simple = lb.simple;
    if (simple === 'LEAST_REQUEST' || simple === 'RANDOM') {
      if (grpc) {
        ctx.warn(
          `${where}/grpc-lb/${simple}`,
          `${where}: proxyless gRPC clients support only ROUND_ROBIN and consistent hashing; ${simple} is sent to them as ROUND_ROBIN`,
        );
      } else cluster.lb_policy = simple;
    } else if (simple === 'PASSTHROUGH') {
      ctx.warn(
        `${where}/passthrough`,
        `${where}: loadBalancer PASSTHROUGH (original destination) is not generated yet; ROUND_ROBIN is used`,
      );
    }
    return;
  }
  const hash = lb.consistentHash;
  if (hash.algorithm === 'MAGLEV' && !grpc) {
    cluster.lb_policy = 'MAGLEV';
    if (hash.maglevTableSize !== undefined)
      cluster.maglev_lb_config = { table_size: { value: hash.maglevTableSize } };
    return;
  }
  if (grpc && !ringHashWorks(ctx.proxy)) {
    ctx.warn(
      `${where}/grpc-ring-hash-crash/${ctx.proxy.userAgent.version}`,
      `${where}: ${ctx.proxy.userAgent.name} ${ctx.proxy.userAgent.version} crashes on ring hash (grpc/grpc#31766, fixed in 1.52): it is sent ROUND_ROBIN`,
    );
    return;
  }
  if (hash.algorithm === 'MAGLEV') {
    ctx.warn(`${where}/grpc-maglev`, `${where}: proxyless gRPC clients get RING_HASH instead of MAGLEV`);
  }
  cluster.lb_policy = 'RING_HASH';
  cluster.ring_hash_lb_config = {
    minimum_ring_size: { value: hash.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE },
  };
}

/** The inline endpoints of a DNS-resolved service port (its endpoints' hostnames, else the host itself). */
function dnsLoadAssignment(
  ctx: GenerateContext,
  name: string,
  service: Service,
  port: ServicePort,
): ClusterLoadAssignment {
  const workloads = ctx.snapshot.endpointsByHost.get(service.hostname) ?? [];
  const targets =
    workloads.length > 0
      ? workloads.map((w) => ({ address: w.address, port: endpointPort(w, port) }))
      : [{ address: service.hostname, port: port.targetPort ?? port.number }];
  const chosen = ctx.proxy.kind === 'grpc' ? targets.slice(0, 1) : targets;
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: {},
        load_balancing_weight: { value: 1 },
        lb_endpoints: chosen.map((t) => ({
          endpoint: { address: { socket_address: { address: t.address, port_value: t.port } } },
        })),
      },
    ],
  };
}

/** One outbound cluster: `outbound|PORT|SUBSET|HOST`. */
export function outboundCluster(
  ctx: GenerateContext,
  service: Service,
  port: ServicePort,
  subset: string | undefined,
): GeneratedResource<Cluster> {
  const name = outboundClusterName(port.number, subset, service.hostname);
  const rule = visibleDestinationRule(ctx.snapshot, service.hostname, ctx.proxy.namespace);
  const policy = effectivePolicy(rule, port.number, subset);
  const pool = policy.connectionPool;
  const cluster: Cluster = { name };
  if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') {
    // gRPC clients support LOGICAL_DNS only; Envoy gets Istio's choice.
    cluster.type =
      service.resolution === 'DNS' && ctx.proxy.kind === 'sidecar' ? 'STRICT_DNS' : 'LOGICAL_DNS';
    cluster.load_assignment = dnsLoadAssignment(ctx, name, service, port);
  } else {
    if (service.resolution === 'NONE') {
      ctx.warn(
        `Service/${service.hostname}/resolution-none`,
        `${service.origin.kind} ${service.origin.namespace}/${service.origin.name}: resolution NONE (original destination) is not generated yet; its known endpoints are used`,
      );
    }
    cluster.type = 'EDS';
    cluster.eds_cluster_config = { eds_config: ADS_CONFIG_SOURCE, service_name: name };
  }
  cluster.connect_timeout = duration(pool?.tcp?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  applyLoadBalancer(ctx, cluster, policy.loadBalancer, rule);
  cluster.circuit_breakers = circuitBreakers(pool, policy.retryBudget);
  const ratioBudget = ctx.snapshot.retryRatioBudgets?.get(service.hostname);
  if (ratioBudget && ctx.proxy.kind === 'sidecar') cluster.metadata = retryRatioMetadata(ratioBudget);
  const protocolOptions = httpProtocolOptions(port.protocol, pool);
  if (protocolOptions)
    cluster.typed_extension_protocol_options = { [HTTP_PROTOCOL_OPTIONS_KEY]: protocolOptions };
  if (policy.outlierDetection) {
    cluster.outlier_detection =
      ctx.proxy.kind === 'grpc'
        ? grpcOutlierDetection(policy.outlierDetection)
        : outlierDetection(policy.outlierDetection);
    // Istio: minHealthPercent defaults to 0, so outlier detection alone disables panic mode.
    cluster.common_lb_config = {
      healthy_panic_threshold: { value: policy.outlierDetection.minHealthPercent ?? 0 },
    };
  }
  // Auto mTLS to sidecars, or the DestinationRule's client TLS (generate/tls.ts); gRFC A29 for gRPC.
  const where = rule ? `DestinationRule ${rule.namespace}/${rule.name}` : `Service ${service.hostname}`;
  Object.assign(
    cluster,
    ctx.proxy.kind === 'grpc'
      ? grpcClusterTransport(ctx, service, port, policy.tls, serviceIdentities(ctx, service), where)
      : outboundClusterTransport(ctx, service, port.number, subset, policy.tls, where),
  );
  if (rule && pool?.tcp?.idleTimeoutMs !== undefined)
    ctx.warn(`${where}/tcp-idle`, `${where}: connectionPool.tcp.idleTimeout is not generated yet`);
  return { name, resource: cluster };
}

/** The sidecar's cluster to its own app on 127.0.0.1:WEFT_APP_PORT. */
export function inboundCluster(ctx: GenerateContext): GeneratedResource<Cluster> | undefined {
  const { service, appPort } = ctx.proxy;
  if (!service || appPort === undefined) return undefined;
  const name = inboundClusterName(service.port);
  const cluster: Cluster = {
    name,
    type: 'STATIC',
    connect_timeout: duration(DEFAULT_CONNECT_TIMEOUT_MS),
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: appPort } } } },
          ],
        },
      ],
    },
  };
  const protocolOptions = httpProtocolOptions(service.protocol, undefined);
  if (protocolOptions)
    cluster.typed_extension_protocol_options = { [HTTP_PROTOCOL_OPTIONS_KEY]: protocolOptions };
  return { name, resource: cluster };
}

/** Every outbound cluster: each service port, plus one per DestinationRule subset. */
function allOutboundClusters(ctx: GenerateContext): GeneratedResource<Cluster>[] {
  const out: GeneratedResource<Cluster>[] = [];
  for (const service of visibleServices(ctx)) {
    const subsets =
      visibleDestinationRule(ctx.snapshot, service.hostname, ctx.proxy.namespace)?.subsets ?? [];
    for (const port of service.ports) {
      out.push(outboundCluster(ctx, service, port, undefined));
      for (const subset of subsets) out.push(outboundCluster(ctx, service, port, subset.name));
    }
  }
  return out;
}

/** One cluster by name, if weft would generate it for this proxy. */
export function clusterByName(ctx: GenerateContext, name: string): GeneratedResource<Cluster> | undefined {
  const parsed = parseClusterName(name);
  if (!parsed) return undefined;
  if (parsed.direction === 'inbound') {
    const inbound = ctx.proxy.kind === 'sidecar' ? inboundCluster(ctx) : undefined;
    return inbound?.name === name ? inbound : undefined;
  }
  const service = ctx.snapshot.services.get(parsed.host);
  const port = service?.ports.find((p) => p.number === parsed.port);
  if (!service || !port) return undefined;
  if (!serviceVisible(ctx, service)) return undefined;
  if (parsed.subset) {
    const subsets =
      visibleDestinationRule(ctx.snapshot, service.hostname, ctx.proxy.namespace)?.subsets ?? [];
    if (!subsets.some((s) => s.name === parsed.subset)) return undefined;
  }
  return outboundCluster(ctx, service, port, parsed.subset);
}

/** CDS, outbound part (reads only the proxy's kind and namespace): every outbound cluster, or the named ones. */
export function generateOutboundClusters(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<Cluster>[] {
  // Weft proxies also get Istio's PassthroughCluster (the catch-all route of ALLOW_ANY).
  if (!names)
    return [...allOutboundClusters(ctx), ...(ctx.proxy.kind === 'sidecar' ? [passthroughCluster()] : [])];
  return names
    .filter((n) => parseClusterName(n)?.direction === 'outbound')
    .map((n) => clusterByName(ctx, n))
    .filter((c) => c !== undefined);
}

/** CDS, inbound part (reads only the sidecar's service and app port): its `inbound|SP||` cluster. */
export function generateInboundClusters(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<Cluster>[] {
  const inbound = ctx.proxy.kind === 'sidecar' ? inboundCluster(ctx) : undefined;
  if (!inbound || (names && !names.includes(inbound.name))) return [];
  return [inbound];
}

/** CDS for a proxy: everything (wildcard; sidecars also get their inbound cluster) or the named clusters. */
export function generateClusters(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<Cluster>[] {
  return [...generateOutboundClusters(ctx, names), ...generateInboundClusters(ctx, names)];
}
