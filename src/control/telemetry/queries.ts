// What the history says about the mesh: golden signals per service, workload and edge (source workload -> destination service).
import { type EdgeSeries, F, FIELDS, quantile, type Totals, TrafficHistory } from './history.ts';

/** Request and TCP figures over a window. */
export interface Golden {
  requests: number;
  /** Requests per second over the window. */
  rps: number;
  /** Share of requests answered with a status below 500 (null: no requests). */
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  tcpOpened: number;
  /** TCP connections open at the last scrape. */
  tcpOpen: number;
  tcpSentBytes: number;
  tcpReceivedBytes: number;
}

export interface Identity {
  workload: string;
  namespace: string;
  principal: string;
}

/** Calls from one workload to one service. */
export interface Edge extends Golden {
  source: Identity;
  destination: { service: string; name: string; namespace: string; principal: string };
  protocol: string;
  /** true: mutual TLS seen at the destination; false: plaintext; null: not known (no destination sidecar reported). */
  mtls: boolean | null;
  /** Requests per destination version (the observed traffic split). */
  versions: Record<string, number>;
}

/**
 * Which series count, so no request is counted twice: a meshed caller's own report (`source`,
 * which includes faults injected before the call leaves), or the destination's report of a caller
 * with no sidecar (`source_workload` unknown).
 */
export function counted(s: EdgeSeries): boolean {
  return s.key.reporter === 'source'
    ? s.key.sourceWorkload !== 'unknown'
    : s.key.sourceWorkload === 'unknown';
}

function zero(): Totals {
  return new Float64Array(FIELDS);
}

/** Sums `s` over the window's slots into `into`. */
function addWindow(s: EdgeSeries, slots: [number, number][], into: Totals): void {
  for (const [slot] of slots) TrafficHistory.addSlot(s, slot, into);
}

export function golden(t: Totals, seconds: number, tcpOpen: number): Golden {
  const requests = t[F.requests];
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    requests,
    rps: seconds > 0 ? Math.round((requests / seconds) * 1000) / 1000 : 0,
    successRate: requests > 0 ? Math.round((1 - t[F.errors] / requests) * 10000) / 10000 : null,
    p50Ms: round(quantile(t, 0.5)),
    p95Ms: round(quantile(t, 0.95)),
    p99Ms: round(quantile(t, 0.99)),
    tcpOpened: t[F.tcpOpened],
    tcpOpen: Math.max(0, tcpOpen),
    tcpSentBytes: t[F.tcpSent],
    tcpReceivedBytes: t[F.tcpReceived],
  };
}

/** The window of the last `seconds` (at least one slot) over a history scraped every `intervalMs`. */
export class Window {
  readonly slots: [number, number][];
  readonly seconds: number;
  constructor(history: TrafficHistory, seconds: number, intervalMs: number) {
    this.slots = history.slots(Math.max(1, Math.round((seconds * 1000) / intervalMs)));
    this.seconds = (this.slots.length * intervalMs) / 1000;
  }
}

/** Sums and TCP gauges of the counted series grouped by `keyOf` (undefined: skipped). */
export function group(
  history: TrafficHistory,
  window: Window,
  keyOf: (s: EdgeSeries) => string | undefined,
  only: (s: EdgeSeries) => boolean = counted,
): Map<string, { totals: Totals; tcpOpen: number; series: EdgeSeries[] }> {
  const out = new Map<string, { totals: Totals; tcpOpen: number; series: EdgeSeries[] }>();
  for (const s of history.series()) {
    if (!only(s)) continue;
    const key = keyOf(s);
    if (key === undefined) continue;
    let g = out.get(key);
    if (!g) {
      g = { totals: zero(), tcpOpen: 0, series: [] };
      out.set(key, g);
    }
    addWindow(s, window.slots, g.totals);
    g.tcpOpen += s.tcpOpen;
    g.series.push(s);
  }
  return out;
}

function hasTraffic(t: Totals): boolean {
  return t[F.requests] > 0 || t[F.tcpOpened] > 0 || t[F.tcpSent] > 0 || t[F.tcpReceived] > 0;
}

const edgeId = (s: EdgeSeries) =>
  `${s.key.sourceNamespace}/${s.key.sourceWorkload}>${s.key.destinationService}`;

/** Every edge with traffic (or open connections) in the window, busiest first. */
export function edges(history: TrafficHistory, window: Window): Edge[] {
  const mtls = new Map<string, { secure: boolean; src: string; dst: string }>();
  const seen = group(history, window, edgeId, (s) => s.key.reporter === 'destination');
  for (const [id, g] of seen) {
    if (!hasTraffic(g.totals) && g.tcpOpen <= 0) continue;
    const tls = g.series.find((s) => s.key.security === 'mutual_tls');
    mtls.set(id, {
      secure: tls !== undefined,
      src: tls?.key.sourcePrincipal ?? 'unknown',
      dst: tls?.key.destinationPrincipal ?? 'unknown',
    });
  }
  const out: Edge[] = [];
  for (const [id, g] of group(history, window, edgeId)) {
    if (!hasTraffic(g.totals) && g.tcpOpen <= 0) continue;
    const k = g.series[0].key;
    const tls = mtls.get(id);
    const versions: Record<string, number> = {};
    for (const s of g.series) {
      const t = zero();
      addWindow(s, window.slots, t);
      if (t[F.requests] > 0)
        versions[s.key.destinationVersion] = (versions[s.key.destinationVersion] ?? 0) + t[F.requests];
    }
    out.push({
      source: {
        workload: k.sourceWorkload,
        namespace: k.sourceNamespace,
        principal: tls?.src !== 'unknown' && tls ? tls.src : k.sourcePrincipal,
      },
      destination: {
        service: k.destinationService,
        name: k.destinationServiceName,
        namespace: k.destinationServiceNamespace,
        principal: tls?.dst ?? k.destinationPrincipal,
      },
      protocol: k.protocol,
      mtls: tls ? tls.secure : null,
      versions,
      ...golden(g.totals, window.seconds, g.tcpOpen),
    });
  }
  return out.sort((a, b) => b.requests - a.requests || b.tcpOpened - a.tcpOpened);
}

/** One service's or workload's figures (requests it received). */
export interface StatRow extends Golden {
  name: string;
  namespace: string;
  /** Services: the workloads and versions seen serving it, with their request counts. */
  versions?: Record<string, number>;
}

/** Per destination service (`svc`) or per destination workload (`deploy`). */
export function stat(history: TrafficHistory, window: Window, kind: 'svc' | 'deploy'): StatRow[] {
  const keyOf =
    kind === 'svc'
      ? (s: EdgeSeries) =>
          s.key.destinationService === 'unknown'
            ? undefined
            : `${s.key.destinationServiceNamespace}\u0000${s.key.destinationServiceName}`
      : (s: EdgeSeries) =>
          s.key.destinationWorkload === 'unknown'
            ? undefined
            : `${s.key.destinationNamespace}\u0000${s.key.destinationWorkload}`;
  const rows: StatRow[] = [];
  for (const [key, g] of group(history, window, keyOf)) {
    const [namespace, name] = key.split('\u0000');
    const row: StatRow = { name, namespace, ...golden(g.totals, window.seconds, g.tcpOpen) };
    if (kind === 'svc') {
      row.versions = {};
      for (const s of g.series) {
        const t = zero();
        addWindow(s, window.slots, t);
        if (t[F.requests] > 0)
          row.versions[s.key.destinationVersion] =
            (row.versions[s.key.destinationVersion] ?? 0) + t[F.requests];
      }
    }
    rows.push(row);
  }
  return rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** One point of a time series: the golden signals of one interval. */
export interface Point {
  /** Wall time the interval ended (ms since the epoch). */
  t: number;
  rps: number;
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** Per interval of the window: the signals of the counted series `match` selects. */
export function timeSeries(
  history: TrafficHistory,
  window: Window,
  intervalMs: number,
  match: (s: EdgeSeries) => boolean,
): Point[] {
  const selected = [...history.series()].filter((s) => counted(s) && match(s));
  return window.slots.map(([slot, t]) => {
    const totals = zero();
    for (const s of selected) TrafficHistory.addSlot(s, slot, totals);
    const g = golden(totals, intervalMs / 1000, 0);
    return { t, rps: g.rps, successRate: g.successRate, p50Ms: g.p50Ms, p95Ms: g.p95Ms, p99Ms: g.p99Ms };
  });
}
