// The control plane's own metrics on /metrics, named as Istio's istiod names them (pilot_*, citadel_*).
import { TYPE_URL } from '../xds/type-urls.ts';
import { type Family, type HistogramSeries, MetricsRegistry, type ValueSeries } from './metrics.ts';

/** istiod's buckets of pilot_proxy_convergence_time and pilot_xds_push_time (seconds). */
const PUSH_BUCKETS_S = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];

/** Istio's short names of the xDS types (`type` label). */
const TYPE_NAMES: Record<string, string> = {
  [TYPE_URL.listener]: 'lds',
  [TYPE_URL.route]: 'rds',
  [TYPE_URL.cluster]: 'cds',
  [TYPE_URL.endpoint]: 'eds',
  [TYPE_URL.secret]: 'sds',
};

/** What the ADS server reports as it serves. */
export interface XdsMetrics {
  /** A response of this type was written to a client. */
  pushed(typeUrl: string): void;
  /** A client rejected (NACKed) a response of this type. */
  rejected(typeUrl: string): void;
  /** One proxy was sent everything of a snapshot, `seconds` after the change that made it. */
  converged(seconds: number): void;
  /** A whole push round (every connected proxy) took `seconds`. */
  pushRound(seconds: number): void;
}

/** What the control plane tells the metrics at each scrape. */
export interface ControlPlaneState {
  /** Connected xDS clients. */
  proxies(): number;
  storeRevision(): number;
  /** Stored resources the mesh snapshot left out, by kind. */
  rejectedResources(): ReadonlyMap<string, number>;
  services(): number;
  virtualServices(): number;
}

export class ControlPlaneMetrics implements XdsMetrics {
  readonly registry = new MetricsRegistry();
  private readonly pushes: Family<ValueSeries>;
  private readonly rejects: Family<ValueSeries>;
  private readonly byType = new Map<string, { pushes: ValueSeries; rejects: ValueSeries }>();
  private readonly convergence: HistogramSeries;
  private readonly pushTime: HistogramSeries;
  /** citadel_server_csr_count, citadel_server_success_cert_issuance_count, citadel_server_csr_sign_error_count. */
  readonly csr: ValueSeries;
  readonly certIssued: ValueSeries;
  readonly csrErrors: ValueSeries;

  constructor(state: ControlPlaneState) {
    const r = this.registry;
    this.pushes = r.counter('pilot_xds_pushes', 'xDS responses sent, by type (lds, rds, cds, eds).', [
      'type',
    ]);
    this.rejects = r.counter(
      'pilot_total_xds_rejects',
      'xDS responses rejected (NACKed) by proxies, by type.',
      ['type'],
    );
    this.convergence = r
      .histogram(
        'pilot_proxy_convergence_time',
        'Seconds from a configuration change until a proxy was sent all of it.',
        [],
        PUSH_BUCKETS_S,
      )
      .series();
    this.pushTime = r
      .histogram(
        'pilot_xds_push_time',
        'Seconds one push round to every connected proxy took.',
        [],
        PUSH_BUCKETS_S,
      )
      .series();
    this.csr = r.counter('citadel_server_csr_count', 'Certificate signing requests received.').series();
    this.certIssued = r
      .counter('citadel_server_success_cert_issuance_count', 'Workload certificates issued.')
      .series();
    this.csrErrors = r
      .counter('citadel_server_csr_sign_error_count', 'Certificate signing requests refused or failed.')
      .series();
    const proxies = r.gauge('pilot_xds', 'Proxies connected to this control plane over xDS.');
    const revision = r.gauge('pilot_store_revision', 'Revision of the configuration store.');
    const rejected = r.gauge(
      'pilot_rejected_resources',
      'Stored resources left out of the mesh snapshot, by kind.',
      ['kind'],
    );
    const services = r.gauge('pilot_services', 'Services in the mesh.');
    const virtualServices = r.gauge('pilot_virt_services', 'VirtualServices in the mesh.');
    r.onCollect(() => {
      proxies.series().value = state.proxies();
      revision.series().value = state.storeRevision();
      rejected.clear();
      for (const [kind, n] of state.rejectedResources()) rejected.series([kind]).value = n;
      services.series().value = state.services();
      virtualServices.series().value = state.virtualServices();
    });
  }

  pushed(typeUrl: string): void {
    this.typeSeries(typeUrl).pushes.value++;
  }

  rejected(typeUrl: string): void {
    this.typeSeries(typeUrl).rejects.value++;
  }

  converged(seconds: number): void {
    this.convergence.observe(seconds);
  }

  pushRound(seconds: number): void {
    this.pushTime.observe(seconds);
  }

  private typeSeries(typeUrl: string): { pushes: ValueSeries; rejects: ValueSeries } {
    let s = this.byType.get(typeUrl);
    if (!s) {
      const name = TYPE_NAMES[typeUrl] ?? typeUrl;
      s = { pushes: this.pushes.series([name]), rejects: this.rejects.series([name]) };
      this.byType.set(typeUrl, s);
    }
    return s;
  }
}
