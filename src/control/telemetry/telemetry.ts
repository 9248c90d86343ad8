// The control plane's traffic view: the scraper, its bounded history, and the answers the API and CLI read.
import type { Resource } from '../../config/resource.ts';
import { TelemetryCollector } from './collector.ts';
import { TrafficHistory } from './history.ts';
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

  constructor(proxies: () => AdminProxy[], intervalMs = DEFAULT_INTERVAL_MS) {
    this.intervalMs = intervalMs;
    this.collector = new TelemetryCollector({
      history: this.history,
      intervalMs,
      targets: () => proxies().map((p) => ({ id: p.id, admin: p.admin })),
    });
  }

  start(): void {
    this.collector.start();
  }

  stop(): Promise<void> {
    return this.collector.stop();
  }

  window(seconds: number): Window {
    return new Window(this.history, seconds, this.intervalMs);
  }

  stat(kind: 'svc' | 'deploy', seconds: number): StatRow[] {
    return stat(this.history, this.window(seconds), kind);
  }

  graph(seconds: number): Graph {
    const w = this.window(seconds);
    const list = edges(this.history, w);
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
    for (const row of stat(this.history, w, 'svc')) {
      const node = [...nodes.values()].find(
        (n) => n.kind === 'service' && n.name === row.name && n.namespace === row.namespace,
      );
      if (node) node.inbound = { ...row, versions: undefined } as GraphNode['inbound'];
    }
    for (const row of stat(this.history, w, 'deploy')) {
      const id = `workload:${row.namespace}/${row.name}`;
      const { name: _n, namespace: _ns, versions: _v, ...g } = row;
      const node = nodes.get(id);
      if (node) node.inbound = g;
      else nodes.set(id, { id, kind: 'workload', name: row.name, namespace: row.namespace, inbound: g });
    }
    return { windowSeconds: w.seconds, nodes: [...nodes.values()], edges: list };
  }

  service(name: string, namespace: string, seconds: number, resources: Resource[]): ServiceDetail {
    const w = this.window(seconds);
    const mine = (svc: string, ns: string) => svc === name && ns === namespace;
    const all = edges(this.history, w);
    const inbound = all.filter((e) => mine(e.destination.name, e.destination.namespace));
    const workloads = new Map<string, { workload: string; version: string; requests: number }>();
    const byWorkload = group(
      this.history,
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
    const summaryRow = stat(this.history, w, 'svc').find((r) => mine(r.name, r.namespace));
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
        this.history,
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
