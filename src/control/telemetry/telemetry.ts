// The control plane's traffic view: the scraper, its bounded history, and the answers the API and CLI read.
import type { Resource } from '../../config/resource.ts';
import { TelemetryCollector } from './collector.ts';
import { TrafficHistory } from './history.ts';
import { PrometheusSource } from './prometheus-source.ts';
import type { AdminProxy } from './proxy-admin.ts';
import {
  counted,
  type Edge,
  edges,
  golden,
  group,
  type Point,
  type StatRow,
  stat,
  timeSeries,
  Window,
} from './queries.ts';
import { type ServiceConfig, serviceConfig } from './service-config.ts';

/** Slots kept per series: an hour at the default 10 s interval. */
export const HISTORY_SLOTS = 360;
/** Most edge series kept (about 37 KiB each: 360 slots of 26 float32 fields): at most ~37 MiB. */
export const MAX_SERIES = 1000;
export const DEFAULT_INTERVAL_MS = 10_000;

export interface GraphNode {
  id: string;
  kind: 'workload' | 'service';
  name: string;
  namespace: string;
  /** Requests it received over the window (services: from its callers' reports). */
  inbound: ReturnType<typeof golden>;
}

export interface Graph {
  windowSeconds: number;
  nodes: GraphNode[];
  edges: Edge[];
}

export interface ServiceDetail {
  name: string;
  namespace: string;
  windowSeconds: number;
  intervalMs: number;
  summary: ReturnType<typeof golden>;
  series: Point[];
  inbound: Edge[];
  outbound: Edge[];
  workloads: { workload: string; version: string; requests: number }[];
  observedSplit: Record<string, number>;
  config: ServiceConfig;
}

export class MeshTelemetry {
  readonly intervalMs: number;
  readonly history = new TrafficHistory({ capacity: HISTORY_SLOTS, maxSeries: MAX_SERIES });
  readonly collector: TelemetryCollector;
  /** Set by `--prometheus`: views come from its range queries, and the scraper is not started. */
  readonly prometheus: PrometheusSource | undefined;

  constructor(proxies: () => AdminProxy[], intervalMs = DEFAULT_INTERVAL_MS, prometheusUrl?: string) {
    this.intervalMs = intervalMs;
    this.collector = new TelemetryCollector({
      history: this.history,
      intervalMs,
      targets: () => proxies().map((p) => ({ id: p.id, admin: p.admin, dispatcher: p.dispatcher })),
    });
    this.prometheus = prometheusUrl ? new PrometheusSource(prometheusUrl, intervalMs) : undefined;
  }

  start(): void {
    if (!this.prometheus) this.collector.start();
  }

  stop(): Promise<void> {
    return this.collector.stop();
  }

  /** The history and window to answer from: the scraper's, or one built from Prometheus for this call. */
  async view(seconds: number): Promise<{ history: TrafficHistory; window: Window }> {
    if (this.prometheus) return this.prometheus.view(seconds);
    return { history: this.history, window: new Window(this.history, seconds, this.intervalMs) };
  }

  async stat(kind: 'svc' | 'deploy', seconds: number): Promise<{ windowSeconds: number; rows: StatRow[] }> {
    const { history, window } = await this.view(seconds);
    return { windowSeconds: window.seconds, rows: stat(history, window, kind) };
  }

  async graph(seconds: number): Promise<Graph> {
    const { history, window: w } = await this.view(seconds);
    const list = edges(history, w);
    const nodes = new Map<string, GraphNode>();
    const none = golden(new Float64Array(32), w.seconds, 0);
    for (const e of list) {
      const wid = `workload:${e.source.namespace}/${e.source.workload}`;
      if (!nodes.has(wid))
        nodes.set(wid, {
          id: wid,
          kind: 'workload',
          name: e.source.workload,
          namespace: e.source.namespace,
          inbound: none,
        });
      const sid = `service:${e.destination.service}`;
      if (!nodes.has(sid))
        nodes.set(sid, {
          id: sid,
          kind: 'service',
          name: e.destination.name,
          namespace: e.destination.namespace,
          inbound: none,
        });
    }
    for (const row of stat(history, w, 'svc')) {
      const node = [...nodes.values()].find(
        (n) => n.kind === 'service' && n.name === row.name && n.namespace === row.namespace,
      );
      if (node) node.inbound = { ...row, versions: undefined } as GraphNode['inbound'];
    }
    for (const row of stat(history, w, 'deploy')) {
      const id = `workload:${row.namespace}/${row.name}`;
      const { name: _n, namespace: _ns, versions: _v, ...g } = row;
      const node = nodes.get(id);
      if (node) node.inbound = g;
      else nodes.set(id, { id, kind: 'workload', name: row.name, namespace: row.namespace, inbound: g });
    }
    return { windowSeconds: w.seconds, nodes: [...nodes.values()], edges: list };
  }

  async service(
    name: string,
    namespace: string,
    seconds: number,
    resources: Resource[],
  ): Promise<ServiceDetail> {
    const { history, window: w } = await this.view(seconds);
    const mine = (svc: string, ns: string) => svc === name && ns === namespace;
    const all = edges(history, w);
    const inbound = all.filter((e) => mine(e.destination.name, e.destination.namespace));
    const workloads = new Map<string, { workload: string; version: string; requests: number }>();
    const byWorkload = group(
      history,
      w,
      (s) =>
        mine(s.key.destinationServiceName, s.key.destinationServiceNamespace) &&
        s.key.destinationWorkload !== 'unknown'
          ? `${s.key.destinationWorkload}\u0000${s.key.destinationVersion}`
          : undefined,
      (s) => s.key.reporter === 'destination',
    );
    for (const [key, g] of byWorkload) {
      const [workload, version] = key.split('\u0000');
      workloads.set(key, { workload, version, requests: g.totals[0] });
    }
    const own = new Set([...workloads.values()].map((x) => x.workload));
    const outbound = all.filter((e) => e.source.namespace === namespace && own.has(e.source.workload));
    const summaryRow = stat(history, w, 'svc').find((r) => mine(r.name, r.namespace));
    const observedSplit: Record<string, number> = {};
    for (const e of inbound)
      for (const [v, n] of Object.entries(e.versions)) observedSplit[v] = (observedSplit[v] ?? 0) + n;
    return {
      name,
      namespace,
      windowSeconds: w.seconds,
      intervalMs: this.intervalMs,
      summary: summaryRow ?? golden(new Float64Array(32), w.seconds, 0),
      series: timeSeries(
        history,
        w,
        this.intervalMs,
        (s) => counted(s) && mine(s.key.destinationServiceName, s.key.destinationServiceNamespace),
      ),
      inbound,
      outbound,
      workloads: [...workloads.values()],
      observedSplit,
      config: serviceConfig(resources, name, namespace),
    };
  }
}
