// A proxy's telemetry: its own workload's labels, its metrics registry with Istio's families, and peers by identity.
import { tryParseSpiffeId } from '../identity/spiffe.ts';
import {
  IstioMetrics,
  type ServiceLabels,
  serviceOfCluster,
  serviceOfHost,
  UNKNOWN,
  UNKNOWN_SERVICE,
  UNKNOWN_WORKLOAD,
  type WorkloadLabels,
} from './istio-metrics.ts';
import { MetricsRegistry } from './metrics.ts';

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
  private readonly byPrincipal = new Map<string, WorkloadLabels>();
  private readonly byCluster = new Map<string, ServiceLabels>();

  constructor(local: LocalWorkload | undefined) {
    this.istio = new IstioMetrics(this.registry, local ? workloadLabels(local) : UNKNOWN_WORKLOAD);
    this.selfService = local?.serviceHost ? serviceOfHost(local.serviceHost) : UNKNOWN_SERVICE;
    this.registry.onCollect(() => {
      for (const c of this.live) c.flush();
    });
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
