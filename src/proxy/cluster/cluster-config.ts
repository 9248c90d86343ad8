// Cluster and ClusterLoadAssignment resources compiled into the settings a cluster runs with.
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  num,
  str,
  unsupported,
  wrappedNum,
} from '../common/fields.ts';
import {
  compileTransportSocketMatches,
  compileUpstreamTransportSocket,
  structStrings,
  TRANSPORT_SOCKET_MATCH_METADATA,
  type TransportSocketMatchConfig,
  type UpstreamTlsConfig,
} from '../tls/tls-config.ts';
import { DEFAULT_LB_SETTINGS, LB_TYPE_URLS, type LbPolicyName, type LbSettings } from './lb/load-balancer.ts';

/** The upstream protocol a cluster speaks. */
export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

/** An active health check (envoy.config.core.v3.HealthCheck), compiled. */
export interface HealthCheckConfig {
  intervalMs: number;
  timeoutMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  kind: 'http' | 'tcp';
  /** HTTP path, for kind http. */
  path: string;
  /** Host header for HTTP checks (default: the cluster name). */
  host: string;
  /** Expected status ranges [start, end) (default 200-299). */
  expected: [number, number][];
}

/** circuit_breakers thresholds at DEFAULT priority (Envoy's defaults: 1024 each). */
export interface CircuitBreakers {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /**
   * thresholds.retry_budget: when set, it replaces max_retries: retries in flight may be at most
   * `budgetPercent`% of the cluster's active requests, and never fewer than `minRetryConcurrency`.
   */
  retryBudget?: { budgetPercent: number; minRetryConcurrency: number };
  /**
   * Linkerd's retry budget (a weft extension: cluster metadata `weft.retry_budget`): retries over
   * the last `ttlMs` at most `retryRatio` × requests + `minRetriesPerSecond` × seconds.
   */
  retryRatio?: { retryRatio: number; minRetriesPerSecond: number; ttlMs: number };
}

/** Everything a Cluster resource says that weft honours. */
export interface ClusterConfig {
  name: string;
  /**
   * STATIC and EDS use addresses; the DNS types connect to the hostname as given; ORIGINAL_DST
   * connects to the request's own destination (see `originalDstHeader`).
   */
  type: 'STATIC' | 'EDS' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
  /** EDS service name (defaults to the cluster name). */
  edsServiceName: string;
  connectTimeoutMs: number;
  lbPolicy: LbPolicyName;
  lbSettings: LbSettings;
  protocol: UpstreamProtocol;
  /** Idle upstream connections close after this (ms; Envoy default 1 h). */
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** Inline endpoints (STATIC/DNS clusters, or EDS before the first assignment). */
  loadAssignment?: EndpointSet;
  healthChecks: HealthCheckConfig[];
  circuitBreakers: CircuitBreakers;
  /** common_lb_config.healthy_panic_threshold (percent; default 50). */
  panicThreshold: number;
  /** Passive health checking; absent when the Cluster has no outlier_detection. */
  outlierDetection?: OutlierDetectionConfig;
  /**
   * ORIGINAL_DST only: the request header holding `host:port` (original_dst_lb_config with
   * use_http_header). Absent: the request's authority, the destination an explicit proxy is asked
   * for (weft has no SO_ORIGINAL_DST; docs/xds-support.md).
   */
  originalDstHeader?: string;
  /** `transport_socket`: TLS origination (absent: plaintext). */
  transportSocket?: UpstreamTlsConfig;
  /** `transport_socket_matches`: per-endpoint TLS by endpoint metadata (tried before transportSocket). */
  transportSocketMatches?: TransportSocketMatchConfig[];
}

/** envoy.config.cluster.v3.OutlierDetection, the consecutive-error parts weft implements. */
export interface OutlierDetectionConfig {
  /** Eject after this many consecutive 5xx (0 = off, i.e. enforcing 0). */
  consecutive5xx: number;
  /** Eject after this many consecutive 502/503/504 (0 = off). */
  consecutiveGatewayFailure: number;
  /** With split_external_local_origin_errors: eject after this many connect failures/timeouts (0 = off). */
  consecutiveLocalOriginFailure: number;
  /** Count local-origin failures (connect failure, reset) separately from HTTP 5xx. */
  splitLocalOrigin: boolean;
  /** How often ejections are reviewed (ms). */
  intervalMs: number;
  /** Ejection time is this times the number of ejections so far (ms). */
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  /** At most this percent of hosts are ejected at once. */
  maxEjectionPercent: number;
}

/** One endpoint from a ClusterLoadAssignment. */
export interface EndpointConfig {
  address: string;
  port: number;
  weight: number;
  health: 'healthy' | 'unhealthy' | 'draining' | 'degraded';
  priority: number;
  /** `metadata.filter_metadata['envoy.transport_socket_match']` (what transport_socket_matches look at). */
  transportMatch?: Record<string, string>;
}

/** A ClusterLoadAssignment, compiled. */
export interface EndpointSet {
  clusterName: string;
  endpoints: EndpointConfig[];
  /** policy.overprovisioning_factor in percent (default 140): how a degraded priority level sheds load to the next. */
  overprovisioningPercent: number;
}

const HTTP_PROTOCOL_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

const CLUSTER_FIELDS = [
  'name',
  'type',
  'edsClusterConfig',
  'connectTimeout',
  'lbPolicy',
  'ringHashLbConfig',
  'maglevLbConfig',
  'leastRequestLbConfig',
  'roundRobinLbConfig',
  'loadAssignment',
  'healthChecks',
  'circuitBreakers',
  'typedExtensionProtocolOptions',
  'http2ProtocolOptions',
  'commonLbConfig',
  'loadBalancingPolicy',
  'altStatName',
  'metadata',
  'dnsLookupFamily',
  'respectDnsTtl',
  'dnsRefreshRate',
  'perConnectionBufferLimitBytes',
  'cleanupInterval',
  'upstreamConnectionOptions',
  'commonHttpProtocolOptions',
  'filters',
  'outlierDetection',
  'originalDstLbConfig',
  'transportSocket',
  'transportSocketMatches',
];

const HEALTH_STATUS: Record<string, EndpointConfig['health']> = {
  UNKNOWN: 'healthy',
  HEALTHY: 'healthy',
  UNHEALTHY: 'unhealthy',
  DRAINING: 'draining',
  TIMEOUT: 'unhealthy',
  DEGRADED: 'degraded',
};

/** Compiles a decoded Cluster; throws UnsupportedFieldError for what weft cannot honour. */
export function compileCluster(c: Msg): ClusterConfig {
  const name = str(c.name);
  const where = `Cluster ${name}`;
  checkFields(c, where, CLUSTER_FIELDS);
  if (list(c.filters).length > 0) unsupported(where, 'upstream filters');
  const type = (str(c.type) || 'STATIC') as ClusterConfig['type'];
  if (!['STATIC', 'EDS', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST'].includes(type))
    unsupported(where, `cluster type ${type}`);
  const originalDst = type === 'ORIGINAL_DST' ? compileOriginalDst(c, where) : undefined;
  const eds = msg(c.edsClusterConfig);
  if (eds) checkFields(eds, `${where}.eds_cluster_config`, ['edsConfig', 'serviceName']);
  const lbSettings: LbSettings = { ...DEFAULT_LB_SETTINGS };
  // An ORIGINAL_DST cluster picks its one host itself (CLUSTER_PROVIDED); the policy is not used.
  let lbPolicy = (originalDst ? 'ROUND_ROBIN' : str(c.lbPolicy) || 'ROUND_ROBIN') as LbPolicyName;
  if (!(lbPolicy in LB_TYPE_URLS) && lbPolicy !== ('LOAD_BALANCING_POLICY_CONFIG' as LbPolicyName))
    unsupported(where, `lb_policy ${lbPolicy}`);
  const ring = msg(c.ringHashLbConfig);
  if (ring) {
    checkFields(ring, `${where}.ring_hash_lb_config`, ['minimumRingSize', 'maximumRingSize', 'hashFunction']);
    lbSettings.minimumRingSize = wrappedNum(ring.minimumRingSize, lbSettings.minimumRingSize);
    lbSettings.maximumRingSize = wrappedNum(ring.maximumRingSize, lbSettings.maximumRingSize);
  }
  const maglev = msg(c.maglevLbConfig);
  if (maglev) {
    checkFields(maglev, `${where}.maglev_lb_config`, ['tableSize']);
    lbSettings.maglevTableSize = wrappedNum(maglev.tableSize, lbSettings.maglevTableSize);
  }
  const lr = msg(c.leastRequestLbConfig);
  if (lr) {
    checkFields(lr, `${where}.least_request_lb_config`, ['choiceCount', 'activeRequestBias']);
    lbSettings.choiceCount = wrappedNum(lr.choiceCount, 2);
  }
  const policy = msg(c.loadBalancingPolicy);
  if (policy) {
    // The first policy weft knows wins (Envoy picks the first supported one).
    const known = list(policy.policies)
      .map((p) => msg(msg(p.typedExtensionConfig)?.typedConfig))
      .find((tc) => tc && Object.values(LB_TYPE_URLS).includes(str(tc['@type']) as never));
    if (!known) unsupported(`${where}.load_balancing_policy`, 'every listed policy');
    lbPolicy = (Object.keys(LB_TYPE_URLS) as LbPolicyName[]).find((k) => LB_TYPE_URLS[k] === known['@type'])!;
    if (lbPolicy === 'RING_HASH') {
      lbSettings.minimumRingSize = num(
        known.minimumRingSize ? wrappedNum(known.minimumRingSize, 1024) : 1024,
      );
      lbSettings.maximumRingSize = known.maximumRingSize
        ? wrappedNum(known.maximumRingSize, 8388608)
        : 8388608;
    } else if (lbPolicy === 'MAGLEV') lbSettings.maglevTableSize = wrappedNum(known.tableSize, 65537);
    else if (lbPolicy === 'LEAST_REQUEST') lbSettings.choiceCount = wrappedNum(known.choiceCount, 2);
  }
  if (lbPolicy === ('LOAD_BALANCING_POLICY_CONFIG' as LbPolicyName))
    unsupported(where, 'an empty load_balancing_policy');
  if (lbPolicy === 'MAGLEV' && !isPrime(lbSettings.maglevTableSize))
    unsupported(`${where}.maglev_lb_config`, 'a table_size that is not prime');

  let protocol: UpstreamProtocol = msg(c.http2ProtocolOptions) ? 'http2' : 'http1';
  let idleTimeoutMs = 3600_000;
  let maxRequestsPerConnection = 0;
  const tepo = msg(c.typedExtensionProtocolOptions);
  if (tepo) {
    for (const [key, value] of Object.entries(tepo)) {
      const opts = msg(value);
      if (!opts || opts['@type'] !== HTTP_PROTOCOL_OPTIONS)
        unsupported(`${where}.typed_extension_protocol_options`, `'${key}'`);
      const w = `${where}.typed_extension_protocol_options['${key}']`;
      checkFields(opts, w, [
        'commonHttpProtocolOptions',
        'explicitHttpConfig',
        'useDownstreamProtocolConfig',
      ]);
      const explicit = msg(opts.explicitHttpConfig);
      if (explicit) protocol = msg(explicit.http2ProtocolOptions) ? 'http2' : 'http1';
      if (msg(opts.useDownstreamProtocolConfig)) protocol = 'downstream';
      const common = msg(opts.commonHttpProtocolOptions);
      if (common) {
        checkFields(common, `${w}.common_http_protocol_options`, [
          'idleTimeout',
          'maxRequestsPerConnection',
          'maxConnectionDuration',
          'maxHeadersCount',
        ]);
        idleTimeoutMs = durationMs(common.idleTimeout, idleTimeoutMs);
        maxRequestsPerConnection = wrappedNum(common.maxRequestsPerConnection, 0);
      }
    }
  }
  const cb: CircuitBreakers = {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
  };
  const cbm = msg(c.circuitBreakers);
  if (cbm) {
    checkFields(cbm, `${where}.circuit_breakers`, ['thresholds', 'perHostThresholds']);
    for (const t of list(cbm.thresholds)) {
      if (t.priority && t.priority !== 'DEFAULT') continue;
      checkFields(t, `${where}.circuit_breakers.thresholds`, [
        'priority',
        'maxConnections',
        'maxPendingRequests',
        'maxRequests',
        'maxRetries',
        'trackRemaining',
        'retryBudget',
      ]);
      cb.maxConnections = wrappedNum(t.maxConnections, cb.maxConnections);
      cb.maxPendingRequests = wrappedNum(t.maxPendingRequests, cb.maxPendingRequests);
      cb.maxRequests = wrappedNum(t.maxRequests, cb.maxRequests);
      cb.maxRetries = wrappedNum(t.maxRetries, cb.maxRetries);
      const budget = msg(t.retryBudget);
      if (budget) {
        checkFields(budget, `${where}.circuit_breakers.thresholds.retry_budget`, [
          'budgetPercent',
          'minRetryConcurrency',
        ]);
        const percent = msg(budget.budgetPercent);
        cb.retryBudget = {
          // Envoy: 20% when budget_percent is absent; an empty Percent is 0.
          budgetPercent: percent ? num(percent.value, 0) : 20,
          minRetryConcurrency: wrappedNum(budget.minRetryConcurrency, 3),
        };
      }
    }
  }
  const common = msg(c.commonLbConfig);
  let panicThreshold = 50;
  if (common) {
    // locality_weighted_lb_config is not implemented: endpoints are balanced by their own weights.
    checkFields(common, `${where}.common_lb_config`, ['healthyPanicThreshold']);
    const pt = msg(common.healthyPanicThreshold);
    // A Percent of 0 arrives as an empty message: present means its value, 0 when absent.
    if (pt) panicThreshold = num(pt.value, 0);
  }
  const la = msg(c.loadAssignment);
  return {
    name,
    type,
    edsServiceName: str(eds?.serviceName) || name,
    connectTimeoutMs: durationMs(c.connectTimeout, 5000),
    lbPolicy,
    lbSettings,
    protocol,
    idleTimeoutMs,
    maxRequestsPerConnection,
    loadAssignment: la ? compileLoadAssignment(la, name) : undefined,
    healthChecks: list(c.healthChecks).map((h, i) =>
      compileHealthCheck(h, `${where}.health_checks[${i}]`, name),
    ),
    circuitBreakers: retryRatioFromMetadata(c.metadata, cb),
    panicThreshold,
    outlierDetection: msg(c.outlierDetection)
      ? compileOutlier(msg(c.outlierDetection)!, `${where}.outlier_detection`)
      : undefined,
    ...(originalDst?.header ? { originalDstHeader: originalDst.header } : {}),
    ...clusterTls(c, where),
  };
}

/** `transport_socket` and `transport_socket_matches`, when set. */
function clusterTls(
  c: Msg,
  where: string,
): Pick<ClusterConfig, 'transportSocket' | 'transportSocketMatches'> {
  const out: Pick<ClusterConfig, 'transportSocket' | 'transportSocketMatches'> = {};
  const socket = compileUpstreamTransportSocket(msg(c.transportSocket), `${where}.transport_socket`);
  if (socket) out.transportSocket = socket;
  const matches = compileTransportSocketMatches(
    c.transportSocketMatches,
    `${where}.transport_socket_matches`,
  );
  if (matches.length > 0) out.transportSocketMatches = matches;
  return out;
}

/** ORIGINAL_DST: lb_policy CLUSTER_PROVIDED (or unset) and original_dst_lb_config. */
function compileOriginalDst(c: Msg, where: string): { header?: string } {
  const policy = str(c.lbPolicy);
  if (policy !== '' && policy !== 'CLUSTER_PROVIDED' && policy !== 'ROUND_ROBIN')
    unsupported(where, `lb_policy ${policy} on an ORIGINAL_DST cluster (use CLUSTER_PROVIDED)`);
  if (msg(c.loadAssignment) || msg(c.edsClusterConfig))
    unsupported(where, 'endpoints on an ORIGINAL_DST cluster');
  const config = msg(c.originalDstLbConfig);
  if (!config) return {};
  checkFields(config, `${where}.original_dst_lb_config`, ['useHttpHeader', 'httpHeaderName']);
  if (config.useHttpHeader !== true) return {};
  return { header: (str(config.httpHeaderName) || 'x-envoy-original-dst-host').toLowerCase() };
}

function compileOutlier(o: Msg, where: string): OutlierDetectionConfig {
  checkFields(o, where, [
    'consecutive5xx',
    'consecutiveGatewayFailure',
    'consecutiveLocalOriginFailure',
    'enforcingConsecutive5xx',
    'enforcingConsecutiveGatewayFailure',
    'enforcingConsecutiveLocalOriginFailure',
    'splitExternalLocalOriginErrors',
    'interval',
    'baseEjectionTime',
    'maxEjectionTime',
    'maxEjectionPercent',
    'enforcingSuccessRate',
    'enforcingLocalOriginSuccessRate',
    'enforcingFailurePercentage',
    'enforcingFailurePercentageLocalOrigin',
  ]);
  // Success-rate and failure-percentage ejection are not implemented: accept them only when disabled.
  for (const f of [
    'enforcingSuccessRate',
    'enforcingLocalOriginSuccessRate',
    'enforcingFailurePercentage',
    'enforcingFailurePercentageLocalOrigin',
  ]) {
    const def = f === 'enforcingSuccessRate' ? 100 : 0;
    if (wrappedNum(o[f], def) !== 0 && (f !== 'enforcingSuccessRate' || o[f] !== undefined))
      unsupported(where, `${f.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)} other than 0`);
  }
  const enforced = (count: string, enforcing: string, countDefault: number, enforcingDefault: number) =>
    wrappedNum(o[enforcing], enforcingDefault) > 0 ? wrappedNum(o[count], countDefault) : 0;
  return {
    consecutive5xx: enforced('consecutive5xx', 'enforcingConsecutive5xx', 5, 100),
    consecutiveGatewayFailure: enforced(
      'consecutiveGatewayFailure',
      'enforcingConsecutiveGatewayFailure',
      5,
      0,
    ),
    consecutiveLocalOriginFailure: enforced(
      'consecutiveLocalOriginFailure',
      'enforcingConsecutiveLocalOriginFailure',
      5,
      100,
    ),
    splitLocalOrigin: o.splitExternalLocalOriginErrors === true,
    intervalMs: Math.max(100, durationMs(o.interval, 10_000)),
    baseEjectionTimeMs: durationMs(o.baseEjectionTime, 30_000),
    maxEjectionTimeMs: durationMs(o.maxEjectionTime, 300_000),
    maxEjectionPercent: wrappedNum(o.maxEjectionPercent, 10),
  };
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return true;
}

function compileHealthCheck(h: Msg, where: string, clusterName: string): HealthCheckConfig {
  checkFields(h, where, [
    'timeout',
    'interval',
    'intervalJitter',
    'intervalJitterPercent',
    'unhealthyThreshold',
    'healthyThreshold',
    'httpHealthCheck',
    'tcpHealthCheck',
    'noTrafficInterval',
    'unhealthyInterval',
    'healthyEdgeInterval',
    'unhealthyEdgeInterval',
    'reuseConnection',
    'eventLogPath',
    'alwaysLogHealthCheckFailures',
  ]);
  const http = msg(h.httpHealthCheck);
  const tcp = msg(h.tcpHealthCheck);
  if (!http && !tcp) unsupported(where, 'a health check other than http_health_check or tcp_health_check');
  if (tcp) {
    checkFields(tcp, `${where}.tcp_health_check`, []);
  }
  const expected: [number, number][] = [];
  if (http) {
    checkFields(http, `${where}.http_health_check`, [
      'path',
      'host',
      'expectedStatuses',
      'codecClientType',
      'requestHeadersToAdd',
      'requestHeadersToRemove',
    ]);
    for (const r of list(http.expectedStatuses)) expected.push([num(r.start), num(r.end)]);
  }
  if (expected.length === 0) expected.push([200, 300]);
  return {
    intervalMs: Math.max(100, durationMs(h.interval, 10000)),
    timeoutMs: Math.max(10, durationMs(h.timeout, 1000)),
    unhealthyThreshold: Math.max(1, wrappedNum(h.unhealthyThreshold, 1)),
    healthyThreshold: Math.max(1, wrappedNum(h.healthyThreshold, 1)),
    kind: http ? 'http' : 'tcp',
    path: str(http?.path) || '/',
    host: str(http?.host) || clusterName,
    expected,
  };
}

/** Compiles a decoded ClusterLoadAssignment. */
export function compileLoadAssignment(cla: Msg, fallbackName = ''): EndpointSet {
  const clusterName = str(cla.clusterName) || fallbackName;
  const where = `ClusterLoadAssignment ${clusterName}`;
  checkFields(cla, where, ['clusterName', 'endpoints', 'policy', 'namedEndpoints']);
  const policy = msg(cla.policy);
  if (policy) checkFields(policy, `${where}.policy`, ['overprovisioningFactor']);
  const overprovisioningPercent = wrappedNum(policy?.overprovisioningFactor, 140);
  if (!(overprovisioningPercent > 0))
    unsupported(`${where}.policy.overprovisioning_factor`, '0 (must be above 0)');
  const endpoints: EndpointConfig[] = [];
  for (const [li, locality] of list(cla.endpoints).entries()) {
    const lw = `${where}.endpoints[${li}]`;
    checkFields(locality, lw, ['locality', 'lbEndpoints', 'loadBalancingWeight', 'priority', 'metadata']);
    const priority = num(locality.priority);
    for (const [ei, lbe] of list(locality.lbEndpoints).entries()) {
      const ew = `${lw}.lb_endpoints[${ei}]`;
      checkFields(lbe, ew, ['endpoint', 'healthStatus', 'loadBalancingWeight', 'metadata']);
      const ep = msg(lbe.endpoint) ?? {};
      checkFields(ep, `${ew}.endpoint`, ['address', 'hostname', 'healthCheckConfig']);
      const sa = msg(msg(ep.address)?.socketAddress);
      if (!sa) unsupported(`${ew}.endpoint.address`, 'an address other than socket_address');
      checkFields(sa, `${ew}.endpoint.address.socket_address`, [
        'address',
        'portValue',
        'protocol',
        'ipv4Compat',
      ]);
      endpoints.push({
        address: str(sa.address),
        port: num(sa.portValue),
        weight: wrappedNum(lbe.loadBalancingWeight, 1),
        health: HEALTH_STATUS[str(lbe.healthStatus) || 'UNKNOWN'] ?? 'healthy',
        priority,
        ...transportMatchOf(msg(lbe.metadata), `${ew}.metadata`),
      });
    }
  }
  return { clusterName, endpoints, overprovisioningPercent };
}

/** An endpoint's `envoy.transport_socket_match` metadata, when it has some. */
function transportMatchOf(metadata: Msg | undefined, where: string): Pick<EndpointConfig, 'transportMatch'> {
  const struct = msg(msg(metadata?.filterMetadata)?.[TRANSPORT_SOCKET_MATCH_METADATA]);
  if (!struct) return {};
  return {
    transportMatch: structStrings(struct, `${where}.filter_metadata['${TRANSPORT_SOCKET_MATCH_METADATA}']`),
  };
}

/** Adds the `weft.retry_budget` cluster metadata (numbers of a decoded Struct) to the breakers. */
function retryRatioFromMetadata(metadata: unknown, cb: CircuitBreakers): CircuitBreakers {
  const struct = msg(msg(msg(metadata)?.filterMetadata)?.['weft.retry_budget']);
  const fields = msg(struct?.fields);
  if (!fields) return cb;
  const number = (key: string, fallback: number) => {
    const v = msg(fields[key])?.numberValue;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
  };
  return {
    ...cb,
    retryRatio: {
      retryRatio: number('retryRatio', 0.2),
      minRetriesPerSecond: number('minRetriesPerSecond', 10),
      ttlMs: Math.max(1000, number('ttlMs', 10_000)),
    },
  };
}
