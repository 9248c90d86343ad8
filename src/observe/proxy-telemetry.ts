// A proxy's telemetry: its own workload's labels, its metrics registry with Istio's families, and peers by identity.
import { tryParseSpiffeId } from '../identity/spiffe.ts';
import { AccessLogWriter } from './access-log/writer.ts';
import {
  DURATION_BUCKETS_MS,
  IstioMetrics,
  type ServiceLabels,
  serviceOfCluster,
  serviceOfHost,
  UNKNOWN,
  UNKNOWN_SERVICE,
  UNKNOWN_WORKLOAD,
  type WorkloadLabels,
} from './istio-metrics.ts';
import { type Family, type HistogramSeries, MetricsRegistry } from './metrics.ts';
import { PeerMetadataDecoder } from './peer-metadata.ts';
import { TapHub } from './tap.ts';
import { OtlpExporter } from './tracing/exporter.ts';

/** Who this proxy serves, as the sidecar was told at start (the `--service`, labels and identity). */
export interface LocalWorkload {
  /** Workload name (the service name for a weft sidecar, the gateway's name for a gateway). */
  name: string;
  namespace: string;
  /** The workload identity's SPIFFE ID. */
  principal: string;
  /** Labels; `app` and `version` (else `service.istio.io/canonical-*`) name the canonical service and revision. */
  labels: Readonly<Record<string, string>>;
  /** The service the sidecar fronts, as an FQDN (`reviews.default.svc.cluster.local`); absent for a gateway. */
  serviceHost?: string;
  /** Istio's cluster id (`topology.istio.io/cluster` label, default `Kubernetes`). */
  cluster?: string;
}

/** Interned peers and services: at most this many of each are remembered. */
const MAX_PEERS = 10_000;

export class ProxyTelemetry {
  readonly registry = new MetricsRegistry();
  readonly istio: IstioMetrics;
  /** The service this sidecar fronts (the destination service at the `destination` reporter). */
  readonly selfService: ServiceLabels;
  /** Open connections whose byte counts are added at each scrape. */
  readonly live = new Set<{ flush(): void }>();
  /** Live request records for admin /tap (zero cost while nobody taps). */
  readonly tap = new TapHub();
  private readonly byPrincipal = new Map<string, WorkloadLabels>();
  private readonly byCluster = new Map<string, ServiceLabels>();
  /** Peer workload headers, decoded once per distinct value. */
  readonly peerMetadata = new PeerMetadataDecoder();
  private readonly rqTime: Family<HistogramSeries>;
  private readonly upstreamTime: Family<HistogramSeries>;
  private readonly upstreamTimeByCluster = new Map<string, HistogramSeries>();
  private readonly writers = new Map<string, AccessLogWriter>();
  private readonly exporters = new Map<string, OtlpExporter>();

  constructor(local: LocalWorkload | undefined) {
    this.istio = new IstioMetrics(this.registry, local ? workloadLabels(local) : UNKNOWN_WORKLOAD);
    this.selfService = local?.serviceHost ? serviceOfHost(local.serviceHost) : UNKNOWN_SERVICE;
    this.rqTime = this.registry.histogram(
      'envoy_http_downstream_rq_time',
      'Request time from the head to the last response byte (ms), per connection manager.',
      ['envoy_http_conn_manager_prefix'],
      DURATION_BUCKETS_MS,
    );
    this.upstreamTime = this.registry.histogram(
      'envoy_cluster_upstream_rq_time',
      'Time of the last upstream attempt, from its start to the end of the response (ms), per cluster.',
      ['envoy_cluster_name'],
      DURATION_BUCKETS_MS,
    );
    const written = this.registry.counter(
      'weft_access_log_written_total',
      'Access log lines written, per file.',
      ['path'],
    );
    const dropped = this.registry.counter(
      'weft_access_log_dropped_total',
      'Access log lines dropped (queue full: a slow or full disk; or a failed write), per file.',
      ['path'],
    );
    const spans = this.registry.counter(
      'weft_tracing_spans_exported_total',
      'Spans the collector accepted.',
      ['collector'],
    );
    const lost = this.registry.counter(
      'weft_tracing_spans_dropped_total',
      'Spans dropped (queue full, or the collector failed or was too slow).',
      ['collector'],
    );
    this.registry.onCollect(() => {
      for (const c of this.live) c.flush();
      for (const w of this.writers.values()) {
        written.series([w.path]).value = w.written;
        dropped.series([w.path]).value = w.dropped;
      }
      for (const e of this.exporters.values()) {
        const where = `${e.config.host}:${e.config.port}${e.config.path}`;
        spans.series([where]).value = e.exported;
        lost.series([where]).value = e.dropped;
      }
    });
  }

  /** envoy_http_downstream_rq_time of a connection manager's stat prefix. */
  downstreamRqTime(prefix: string): HistogramSeries {
    return this.rqTime.series([prefix]);
  }

  /** envoy_cluster_upstream_rq_time of a cluster. */
  upstreamRqTime(cluster: string): HistogramSeries {
    let s = this.upstreamTimeByCluster.get(cluster);
    if (!s) {
      s = this.upstreamTime.series([cluster]);
      this.upstreamTimeByCluster.set(cluster, s);
    }
    return s;
  }

  /** The writer of an access log file, shared by every connection manager that logs to it. */
  accessLogWriter(path: string): AccessLogWriter {
    let w = this.writers.get(path);
    if (!w) {
      w = new AccessLogWriter(path);
      this.writers.set(path, w);
    }
    return w;
  }

  /** The span exporter of a collector, shared by every connection manager that sends to it. */
  exporter(collector: { host: string; port: number; path: string }, serviceName: string): OtlpExporter {
    const key = `${collector.host}:${collector.port}${collector.path}|${serviceName}`;
    let e = this.exporters.get(key);
    if (!e) {
      const self = this.istio.self;
      e = new OtlpExporter({
        ...collector,
        resource: [
          ['service.name', serviceName],
          ['k8s.namespace.name', self.namespace],
          ['istio.canonical_service', self.app],
        ],
      });
      this.exporters.set(key, e);
    }
    return e;
  }

  /** Closes access log files and collector connections (at shutdown). */
  close(): void {
    for (const w of this.writers.values()) w.close();
    for (const e of this.exporters.values()) e.close();
  }

  /** The destination service of an `outbound|PORT|SUBSET|HOST` cluster (the same object for the same name). */
  serviceOfCluster(cluster: string): ServiceLabels {
    let s = this.byCluster.get(cluster);
    if (!s) {
      s = Object.freeze(serviceOfCluster(cluster));
      if (this.byCluster.size >= MAX_PEERS) this.byCluster.clear();
      this.byCluster.set(cluster, s);
    }
    return s;
  }

  /**
   * A peer known only by its verified identity: principal and namespace from its SPIFFE ID, the
   * rest unknown. The same object for the same principal (series caches key on it).
   */
  peerOfPrincipal(principal: string | undefined): WorkloadLabels {
    if (!principal) return UNKNOWN_WORKLOAD;
    let peer = this.byPrincipal.get(principal);
    if (!peer) {
      const id = tryParseSpiffeId(principal);
      peer = Object.freeze({ ...UNKNOWN_WORKLOAD, principal, namespace: id?.namespace ?? UNKNOWN });
      if (this.byPrincipal.size >= MAX_PEERS) this.byPrincipal.clear();
      this.byPrincipal.set(principal, peer);
    }
    return peer;
  }
}

/** Istio's labels of a workload. */
export function workloadLabels(w: LocalWorkload): WorkloadLabels {
  const l = w.labels;
  return Object.freeze({
    workload: w.name || UNKNOWN,
    namespace: w.namespace || UNKNOWN,
    principal: w.principal || UNKNOWN,
    app: l['service.istio.io/canonical-name'] ?? l.app ?? w.name ?? UNKNOWN,
    version: l['service.istio.io/canonical-revision'] ?? l.version ?? 'latest',
    cluster: w.cluster ?? l['topology.istio.io/cluster'] ?? 'Kubernetes',
  });
}
