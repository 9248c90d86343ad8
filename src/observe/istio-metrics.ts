// Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds, istio_tcp_*): names, buckets, labels, series cache.
import {
  exponentialBuckets,
  type Family,
  type HistogramSeries,
  type MetricsRegistry,
  type ValueSeries,
} from './metrics.ts';

/** Istio's buckets of istio_request_duration_milliseconds. */
export const DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
/** Istio's buckets of istio_request_bytes / istio_response_bytes: 1, 10, ... 1e9. */
export const BYTES_BUCKETS: readonly number[] = exponentialBuckets(1, 10, 10);

export const UNKNOWN = 'unknown';

/** What Istio's labels say about one side (source or destination) of a request or connection. */
export interface WorkloadLabels {
  workload: string;
  namespace: string;
  /** SPIFFE ID, `unknown` without mTLS. */
  principal: string;
  app: string;
  version: string;
  cluster: string;
}

/** A side nothing is known about. */
export const UNKNOWN_WORKLOAD: WorkloadLabels = Object.freeze({
  workload: UNKNOWN,
  namespace: UNKNOWN,
  principal: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  cluster: UNKNOWN,
});

/** The destination service of a request or connection. */
export interface ServiceLabels {
  /** FQDN, e.g. `reviews.default.svc.cluster.local`, or `unknown`. */
  host: string;
  name: string;
  namespace: string;
}

export const UNKNOWN_SERVICE: ServiceLabels = Object.freeze({
  host: UNKNOWN,
  name: UNKNOWN,
  namespace: UNKNOWN,
});

/** The service a `name.namespace.svc.<suffix>` host names (other hosts: the host as name, namespace unknown). */
export function serviceOfHost(host: string): ServiceLabels {
  if (!host) return UNKNOWN_SERVICE;
  const parts = host.split('.');
  if (parts.length >= 3 && parts[2] === 'svc') return { host, name: parts[0], namespace: parts[1] };
  return { host, name: host, namespace: UNKNOWN };
}

/** The service an Istio cluster name `outbound|PORT|SUBSET|HOST` points to. */
export function serviceOfCluster(cluster: string): ServiceLabels {
  const parts = cluster.split('|');
  return parts.length === 4 && parts[0] === 'outbound' ? serviceOfHost(parts[3]) : UNKNOWN_SERVICE;
}

export type Reporter = 'source' | 'destination';
/** Istio's request_protocol. */
export type RequestProtocol = 'http' | 'grpc' | 'tcp';
const PROTOCOLS: readonly RequestProtocol[] = ['http', 'grpc', 'tcp'];
const POLICIES: readonly SecurityPolicy[] = ['mutual_tls', 'none', 'unknown'];
/** Istio's connection_security_policy: `mutual_tls` / `none` at the destination, `unknown` at the source. */
export type SecurityPolicy = 'mutual_tls' | 'none' | 'unknown';

function side(prefix: string): string[] {
  return [
    'workload',
    'workload_namespace',
    'principal',
    'app',
    'version',
    'canonical_service',
    'canonical_revision',
    'cluster',
  ].map((l) => `${prefix}_${l}`);
}

/** Labels shared by the HTTP and TCP metrics, in order. */
const EDGE_LABELS = [
  'reporter',
  ...side('source'),
  ...side('destination'),
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'request_protocol',
  'connection_security_policy',
];
const HTTP_LABELS = [...EDGE_LABELS, 'response_code', 'grpc_response_status', 'response_flags'];
const TCP_LABELS = [...EDGE_LABELS, 'response_flags'];

function sideValues(w: WorkloadLabels): string[] {
  return [w.workload, w.namespace, w.principal, w.app, w.version, w.app, w.version, w.cluster];
}

/** The series of one request outcome. */
export interface RequestSeries {
  requests: ValueSeries;
  duration: HistogramSeries;
  requestBytes: HistogramSeries;
  responseBytes: HistogramSeries;
}

/** The series of one TCP edge. */
export interface TcpSeries {
  opened: ValueSeries;
  closed: ValueSeries;
  sent: ValueSeries;
  received: ValueSeries;
}

/**
 * One (reporter, source, destination, service, protocol, security) tuple. Resolve it once per
 * connection or per peer; its series by outcome are cached inside.
 */
export class Edge {
  private readonly metrics: IstioMetrics;
  private readonly values: string[];
  /** Outcomes with no flags, by status code × 100 + gRPC status (99 = none).*/
  private readonly byCode = new Map<number, RequestSeries>();
  private readonly byOutcome = new Map<string, RequestSeries>();
  private readonly tcpByFlags = new Map<string, TcpSeries>();

  constructor(metrics: IstioMetrics, values: string[]) {
    this.metrics = metrics;
    this.values = values;
  }

  /** The series of a request that ended with `code` (0 = no response), `grpc` status and `flags` ('-' = none). */
  request(code: number, grpc = '-', flags = '-'): RequestSeries {
    // Common outcomes (no flags; no gRPC status or a standard one, 0-16) are keyed by a number.
    const status = grpc === '-' ? 99 : grpc.length <= 2 ? Number(grpc) : Number.NaN;
    if (flags === '-' && status >= 0 && status <= 99) {
      const key = code * 100 + status;
      let s = this.byCode.get(key);
      if (!s) {
        s = this.metrics.requestSeries([...this.values, String(code), grpc, flags]);
        this.byCode.set(key, s);
      }
      return s;
    }
    const key = `${code} ${grpc} ${flags}`;
    let s = this.byOutcome.get(key);
    if (!s) {
      s = this.metrics.requestSeries([...this.values, String(code), grpc, flags]);
      this.byOutcome.set(key, s);
    }
    return s;
  }

  tcp(flags = '-'): TcpSeries {
    let s = this.tcpByFlags.get(flags);
    if (!s) {
      s = this.metrics.tcpSeries([...this.values, flags]);
      this.tcpByFlags.set(flags, s);
    }
    return s;
  }
}

/** Istio's standard metric families in one registry, and the edges that feed them. */
export class IstioMetrics {
  private readonly requests: Family<ValueSeries>;
  private readonly duration: Family<HistogramSeries>;
  private readonly requestBytes: Family<HistogramSeries>;
  private readonly responseBytes: Family<HistogramSeries>;
  private readonly tcpOpened: Family<ValueSeries>;
  private readonly tcpClosed: Family<ValueSeries>;
  private readonly tcpSent: Family<ValueSeries>;
  private readonly tcpReceived: Family<ValueSeries>;
  /** Edges by reporter, peer object, service object (objects are interned by callers), then protocol × policy slot. */
  private readonly edges = new Map<Reporter, Map<WorkloadLabels, Map<ServiceLabels, (Edge | undefined)[]>>>();

  /** The workload of the proxy that reports. */
  readonly self: WorkloadLabels;

  constructor(registry: MetricsRegistry, self: WorkloadLabels) {
    this.self = self;
    this.requests = registry.counter(
      'istio_requests_total',
      'Requests, by source, destination and outcome.',
      HTTP_LABELS,
    );
    this.duration = registry.histogram(
      'istio_request_duration_milliseconds',
      'Request duration in milliseconds.',
      HTTP_LABELS,
      DURATION_BUCKETS_MS,
    );
    this.requestBytes = registry.histogram(
      'istio_request_bytes',
      'Request sizes (headers and body).',
      HTTP_LABELS,
      BYTES_BUCKETS,
    );
    this.responseBytes = registry.histogram(
      'istio_response_bytes',
      'Response sizes (headers and body).',
      HTTP_LABELS,
      BYTES_BUCKETS,
    );
    this.tcpOpened = registry.counter(
      'istio_tcp_connections_opened_total',
      'TCP connections opened.',
      TCP_LABELS,
    );
    this.tcpClosed = registry.counter(
      'istio_tcp_connections_closed_total',
      'TCP connections closed.',
      TCP_LABELS,
    );
    this.tcpSent = registry.counter(
      'istio_tcp_sent_bytes_total',
      'Bytes sent to the downstream on TCP connections.',
      TCP_LABELS,
    );
    this.tcpReceived = registry.counter(
      'istio_tcp_received_bytes_total',
      'Bytes received from the downstream on TCP connections.',
      TCP_LABELS,
    );
  }

  /**
   * The edge for this proxy's workload talking to `peer`: at the `destination` reporter
   * the peer is the source, at the `source` reporter the peer is the destination.
   */
  edge(
    reporter: Reporter,
    peer: WorkloadLabels,
    service: ServiceLabels,
    protocol: RequestProtocol,
    policy: SecurityPolicy,
  ): Edge {
    let byPeer = this.edges.get(reporter);
    if (!byPeer) this.edges.set(reporter, (byPeer = new Map()));
    let byService = byPeer.get(peer);
    if (!byService) byPeer.set(peer, (byService = new Map()));
    let slots = byService.get(service);
    if (!slots) byService.set(service, (slots = []));
    const slot = PROTOCOLS.indexOf(protocol) * POLICIES.length + POLICIES.indexOf(policy);
    let edge = slots[slot];
    if (!edge) {
      const [source, destination] = reporter === 'destination' ? [peer, this.self] : [this.self, peer];
      edge = new Edge(this, [
        reporter,
        ...sideValues(source),
        ...sideValues(destination),
        service.host,
        service.name,
        service.namespace,
        protocol,
        policy,
      ]);
      slots[slot] = edge;
    }
    return edge;
  }

  requestSeries(values: string[]): RequestSeries {
    return {
      requests: this.requests.series(values),
      duration: this.duration.series(values),
      requestBytes: this.requestBytes.series(values),
      responseBytes: this.responseBytes.series(values),
    };
  }

  tcpSeries(values: string[]): TcpSeries {
    return {
      opened: this.tcpOpened.series(values),
      closed: this.tcpClosed.series(values),
      sent: this.tcpSent.series(values),
      received: this.tcpReceived.series(values),
    };
  }
}
