// `--prometheus URL`: the traffic view answered from an existing Prometheus (PromQL range queries) instead of the built-in scraper.
import { request } from 'undici';
import { ServerUnavailableError } from '../../errors.ts';
import { edgeKey } from './collector.ts';
import { BUCKET_BOUNDS, F, TrafficHistory } from './history.ts';
import { Window } from './queries.ts';

/** Istio's labels an edge series is kept by (collector.ts's edgeKey reads the same). */
const BY =
  'reporter,source_workload,source_workload_namespace,source_principal,destination_service,destination_service_name,' +
  'destination_service_namespace,destination_workload,destination_workload_namespace,destination_principal,' +
  'destination_version,request_protocol,connection_security_policy';

/**
 * Field of the history -> the PromQL of its counter, summed by edge. The counters themselves, not
 * increase(): deltas between steps are taken here, exact (no extrapolation) at any step.
 */
const RANGE_QUERIES: [number | 'buckets', string][] = [
  [F.requests, `sum by (${BY}) (istio_requests_total)`],
  [F.errors, `sum by (${BY}) (istio_requests_total{response_code=~"5..|0"})`],
  ['buckets', `sum by (${BY}, le) (istio_request_duration_milliseconds_bucket)`],
  [F.tcpOpened, `sum by (${BY}) (istio_tcp_connections_opened_total)`],
  [F.tcpClosed, `sum by (${BY}) (istio_tcp_connections_closed_total)`],
  [F.tcpSent, `sum by (${BY}) (istio_tcp_sent_bytes_total)`],
  [F.tcpReceived, `sum by (${BY}) (istio_tcp_received_bytes_total)`],
];
const LE_INDEX = new Map(BUCKET_BOUNDS.map((b, i) => [Number.isFinite(b) ? b : Number.POSITIVE_INFINITY, i]));

type Result = { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];

/** Answers queries from Prometheus's HTTP API; each view is a history built for that call's window. */
export class PrometheusSource {
  readonly url: string;
  readonly stepSeconds: number;

  constructor(url: string, intervalMs: number) {
    this.url = url.replace(/\/$/, '');
    this.stepSeconds = intervalMs / 1000;
  }

  async #query(path: string, params: Record<string, string>): Promise<Result> {
    const target = `${this.url}${path}?${new URLSearchParams(params)}`;
    let body: { status?: string; error?: string; data?: { result: Result } };
    try {
      const r = await request(target, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      body = (await r.body.json()) as typeof body;
    } catch (err) {
      throw new ServerUnavailableError(`Prometheus at ${this.url} did not answer: ${(err as Error).message}`);
    }
    if (body.status !== 'success' || !body.data)
      throw new ServerUnavailableError(
        `Prometheus at ${this.url} refused ${params.query}: ${body.error ?? 'no data'}`,
      );
    return body.data.result;
  }

  /**
   * The history of the last `seconds` (one slot per step) and the window over all of it. Each
   * slot holds the growth of the counters since the step before (a counter that went down, a
   * restarted proxy, counts from zero; one first seen inside the window counts in full).
   */
  async view(seconds: number): Promise<{ history: TrafficHistory; window: Window }> {
    const step = this.stepSeconds;
    const slots = Math.max(1, Math.round(seconds / step));
    const end = Math.floor(Date.now() / 1000 / step) * step;
    const start = end - slots * step;
    const range = { start: String(start), end: String(end), step: String(step) };
    const results = await Promise.all(
      RANGE_QUERIES.map(([, query]) => this.#query('/api/v1/query_range', { ...range, query })),
    );
    const history = new TrafficHistory({ capacity: slots + 2, maxSeries: Number.MAX_SAFE_INTEGER });
    const growth: { slot: number; labels: Record<string, string>; field: number; value: number }[] = [];
    results.forEach((result, q) => {
      const kind = RANGE_QUERIES[q][0];
      for (const series of result) {
        const le = kind === 'buckets' ? LE_INDEX.get(Number(series.metric.le)) : undefined;
        if (kind === 'buckets' && le === undefined) continue;
        const field = kind === 'buckets' ? F.buckets + (le as number) : kind;
        let before: number | undefined;
        let lastSlot = -1;
        for (const [t, v] of series.values ?? []) {
          const value = Number(v);
          const slot = Math.round((t - start) / step) - 1;
          const delta =
            before === undefined || value < before || slot !== lastSlot + 1 ? value : value - before;
          if (slot >= 0 && delta > 0) growth.push({ slot, labels: series.metric, field, value: delta });
          before = value;
          lastSlot = slot;
        }
        if (kind === F.tcpOpened || kind === F.tcpClosed) {
          const last = series.values?.at(-1);
          const open = history.get(edgeKey(series.metric));
          if (last && Math.round((last[0] - start) / step) === slots)
            open.tcpOpen += (kind === F.tcpOpened ? 1 : -1) * Number(last[1]);
        }
      }
    });
    growth.sort((a, b) => a.slot - b.slot);
    let next = 0;
    for (let slot = 0; slot < slots; slot++) {
      for (; next < growth.length && growth[next].slot === slot; next++) {
        const g = growth[next];
        history.add(history.get(edgeKey(g.labels)), g.field, g.value);
      }
      history.close((start + (slot + 1) * step) * 1000);
    }
    return { history, window: new Window(history, seconds, step * 1000) };
  }
}
