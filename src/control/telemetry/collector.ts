// The built-in scraper: every interval, each connected proxy's admin /stats/prometheus, turned into per-interval deltas in the history.
import { type Dispatcher, request } from 'undici';
import { logger } from '../../observe/log.ts';
import { BUCKET_BOUNDS, type EdgeKey, type EdgeSeries, edgeId, F, type TrafficHistory } from './history.ts';
import { parsePrometheusText, type Sample } from './prom-text.ts';

/** A proxy to scrape: its node id and admin base URL (`http://127.0.0.1:15000`, or a stats port's `https://`). */
export interface ScrapeTarget {
  id: string;
  admin: string;
  /** The mutual TLS client of a stats port. */
  dispatcher?: Dispatcher;
}

export interface CollectorOptions {
  targets: () => ScrapeTarget[];
  history: TrafficHistory;
  intervalMs: number;
  /** Proxies scraped at once. */
  concurrency?: number;
}

const FAMILIES = ['istio_requests_total', 'istio_request_duration_milliseconds_bucket', 'istio_tcp_'];
const LE_INDEX = new Map(BUCKET_BOUNDS.map((b, i) => [Number.isFinite(b) ? String(b) : '+Inf', i]));

export function edgeKey(l: Record<string, string>): EdgeKey {
  return {
    reporter: l.reporter === 'destination' ? 'destination' : 'source',
    sourceWorkload: l.source_workload ?? 'unknown',
    sourceNamespace: l.source_workload_namespace ?? 'unknown',
    sourcePrincipal: l.source_principal ?? 'unknown',
    destinationService: l.destination_service ?? 'unknown',
    destinationServiceName: l.destination_service_name ?? 'unknown',
    destinationServiceNamespace: l.destination_service_namespace ?? 'unknown',
    destinationWorkload: l.destination_workload ?? 'unknown',
    destinationNamespace: l.destination_workload_namespace ?? 'unknown',
    destinationPrincipal: l.destination_principal ?? 'unknown',
    destinationVersion: l.destination_version ?? 'unknown',
    protocol: l.request_protocol ?? 'unknown',
    security: l.connection_security_policy ?? 'unknown',
  };
}

/** Scrapes on a timer; `tick()` runs one round (tests and the first round call it directly). */
export class TelemetryCollector {
  readonly #options: CollectorOptions;
  /** Per proxy: the last value of each counter line, to take deltas from. */
  readonly #previous = new Map<string, Map<string, number>>();
  readonly #log = logger({ component: 'telemetry' });
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Proxies that answered in the last round, and those that did not. */
  lastRound = { scraped: 0, failed: 0, at: 0 };

  constructor(options: CollectorOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (!this.#running) this.#running = this.tick().finally(() => (this.#running = undefined));
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Scrapes every target (bounded concurrency, each with a timeout), then closes the history's slot. */
  async tick(): Promise<void> {
    const targets = this.#options.targets();
    const live = new Set(targets.map((t) => t.id));
    for (const id of this.#previous.keys()) if (!live.has(id)) this.#previous.delete(id);
    const bodies = new Map<string, string>();
    let failed = 0;
    const queue = [...targets];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const body = await this.#scrape(t);
        if (body === undefined) failed++;
        else bodies.set(t.id, body);
      }
    };
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 16 }, worker));
    const history = this.#options.history;
    for (const s of history.series()) s.tcpOpen = 0;
    for (const [id, body] of bodies) this.#absorb(id, parsePrometheusText(body, FAMILIES));
    history.close(Date.now());
    this.lastRound = { scraped: bodies.size, failed, at: Date.now() };
  }

  async #scrape(target: ScrapeTarget): Promise<string | undefined> {
    const timeout = Math.min(5000, Math.max(500, this.#options.intervalMs * 0.8));
    try {
      const r = await request(`${target.admin}/stats/prometheus`, {
        dispatcher: target.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      if (r.statusCode !== 200) {
        await r.body.dump();
        return undefined;
      }
      return await r.body.text();
    } catch (err) {
      this.#log.debug({ err, proxy: target.id }, 'scrape failed; the proxy is skipped this round');
      return undefined;
    }
  }

  /**
   * Adds one proxy's counter deltas to the open slot. Lines of one edge series that differ only
   * in labels the history does not keep (response flags, gRPC status) are summed first, and the
   * last values are kept by those sums: a few short keys per series, never the scraped text.
   */
  #absorb(proxy: string, samples: Sample[]): void {
    const history = this.#options.history;
    const prev = this.#previous.get(proxy);
    const sums = new Map<string, { sample: Sample; key: EdgeKey; id: string; value: number }>();
    const keys = new Map<Record<string, string>, { key: EdgeKey; id: string }>();
    for (const s of samples) {
      let known = keys.get(s.labels);
      if (!known) {
        const key = edgeKey(s.labels);
        known = { key, id: edgeId(key) };
        keys.set(s.labels, known);
      }
      const { key, id } = known;
      const extra = s.name === 'istio_requests_total' ? s.labels.response_code : s.le;
      const k = `${s.name}\u0001${extra ?? ''}\u0001${id}`;
      const sum = sums.get(k);
      if (sum) sum.value += s.value;
      else sums.set(k, { sample: s, key, id, value: s.value });
    }
    const next = new Map<string, number>();
    for (const [k, { sample, key, id, value }] of sums) {
      next.set(k, value);
      const before = prev?.get(k);
      // The first scrape of a proxy is the baseline; a sum that went down (a restart) counts from zero.
      const delta = prev === undefined ? 0 : before === undefined || value < before ? value : value - before;
      this.#record(history.get(key, id), sample, value, delta);
    }
    this.#previous.set(proxy, next);
  }

  #record(series: EdgeSeries, s: Sample, value: number, delta: number): void {
    const history = this.#options.history;
    switch (s.name) {
      case 'istio_requests_total': {
        history.add(series, F.requests, delta);
        const code = Number(s.labels.response_code);
        if (!(code > 0 && code < 500)) history.add(series, F.errors, delta);
        return;
      }
      case 'istio_request_duration_milliseconds_bucket': {
        const i = LE_INDEX.get(s.le ?? '');
        if (i !== undefined) history.add(series, F.buckets + i, delta);
        return;
      }
      case 'istio_tcp_connections_opened_total':
        series.tcpOpen += value;
        history.add(series, F.tcpOpened, delta);
        return;
      case 'istio_tcp_connections_closed_total':
        series.tcpOpen -= value;
        history.add(series, F.tcpClosed, delta);
        return;
      case 'istio_tcp_sent_bytes_total':
        history.add(series, F.tcpSent, delta);
        return;
      case 'istio_tcp_received_bytes_total':
        history.add(series, F.tcpReceived, delta);
        return;
    }
  }
}
