// Recent mesh traffic with bounded memory: one ring of per-interval deltas per edge series (requests, errors, latency buckets, TCP).
import { DURATION_BUCKETS_MS } from '../../observe/istio-metrics.ts';

/** The labels an edge series is kept by (Istio's names; one series per distinct set). */
export interface EdgeKey {
  reporter: 'source' | 'destination';
  sourceWorkload: string;
  sourceNamespace: string;
  sourcePrincipal: string;
  destinationService: string;
  destinationServiceName: string;
  destinationServiceNamespace: string;
  destinationWorkload: string;
  destinationNamespace: string;
  destinationPrincipal: string;
  destinationVersion: string;
  protocol: string;
  security: string;
}

/** Fields of one interval's slot: counts, then one cumulative latency bucket per `le` (+Inf last). */
export const F = {
  requests: 0,
  errors: 1,
  tcpOpened: 2,
  tcpClosed: 3,
  tcpSent: 4,
  tcpReceived: 5,
  buckets: 6,
};
export const BUCKET_BOUNDS: readonly number[] = [...DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY];
export const FIELDS = F.buckets + BUCKET_BOUNDS.length;

/** One edge series: its labels, its ring of slots, and the TCP connections open at the last scrape. */
export interface EdgeSeries {
  key: EdgeKey;
  id: string;
  /** `capacity * FIELDS` numbers; slot `tick % capacity`. */
  ring: Float32Array;
  /** The last tick this series had traffic (eviction picks the longest idle). */
  lastActive: number;
  tcpOpen: number;
}

export interface HistoryOptions {
  /** Slots kept per series (360 at a 10 s interval: one hour). */
  capacity: number;
  /** Most series kept; past it the longest idle one is dropped. */
  maxSeries: number;
}

/** The identity of an edge series: its labels' values joined. */
export function edgeId(key: EdgeKey): string {
  return Object.values(key).join('\u0000');
}

/** Sums over a window: the same fields as a slot. */
export type Totals = Float64Array;

export class TrafficHistory {
  readonly capacity: number;
  readonly maxSeries: number;
  readonly #series = new Map<string, EdgeSeries>();
  /** Wall time (ms) each slot was closed at. */
  readonly #times: Float64Array;
  /** Ticks closed so far; the open slot is `tick % capacity`. */
  #tick = 0;
  /** Series dropped because `maxSeries` was reached. */
  evicted = 0;

  constructor(options: HistoryOptions) {
    this.capacity = options.capacity;
    this.maxSeries = options.maxSeries;
    this.#times = new Float64Array(options.capacity);
  }

  get ticks(): number {
    return this.#tick;
  }

  get size(): number {
    return this.#series.size;
  }

  series(): IterableIterator<EdgeSeries> {
    return this.#series.values();
  }

  /** The series of `key`, created (evicting the longest idle one when full). */
  get(key: EdgeKey, id = edgeId(key)): EdgeSeries {
    let s = this.#series.get(id);
    if (s) return s;
    if (this.#series.size >= this.maxSeries) this.#evict();
    s = { key, id, ring: new Float32Array(this.capacity * FIELDS), lastActive: this.#tick, tcpOpen: 0 };
    this.#series.set(id, s);
    return s;
  }

  /** Adds `value` to `field` of the open slot of `s`. */
  add(s: EdgeSeries, field: number, value: number): void {
    if (value === 0) return;
    s.ring[(this.#tick % this.capacity) * FIELDS + field] += value;
    s.lastActive = this.#tick;
  }

  /** Closes the open slot at wall time `now` and opens the next one (cleared in every series). */
  close(now: number): void {
    this.#times[this.#tick % this.capacity] = now;
    this.#tick++;
    const base = (this.#tick % this.capacity) * FIELDS;
    for (const s of this.#series.values()) s.ring.fill(0, base, base + FIELDS);
  }

  /** The closed slots of the last `n` ticks, oldest first: [slot index, wall time]. */
  slots(n: number): [number, number][] {
    const count = Math.min(n, this.#tick, this.capacity - 1);
    const out: [number, number][] = [];
    for (let t = this.#tick - count; t < this.#tick; t++) {
      const slot = t % this.capacity;
      out.push([slot, this.#times[slot]]);
    }
    return out;
  }

  /** Adds slot `slot` of `s` into `into`. */
  static addSlot(s: EdgeSeries, slot: number, into: Totals): void {
    const base = slot * FIELDS;
    for (let f = 0; f < FIELDS; f++) into[f] += s.ring[base + f];
  }

  #evict(): void {
    let victim: EdgeSeries | undefined;
    for (const s of this.#series.values()) if (!victim || s.lastActive < victim.lastActive) victim = s;
    if (victim) {
      this.#series.delete(victim.id);
      this.evicted++;
    }
  }
}

/** The `q` quantile (0..1) of cumulative bucket counts in `t`, interpolated within the bucket (histogram_quantile). */
export function quantile(t: Totals, q: number): number | null {
  const total = t[F.buckets + BUCKET_BOUNDS.length - 1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevCount = 0;
  let prevBound = 0;
  for (let i = 0; i < BUCKET_BOUNDS.length; i++) {
    const count = t[F.buckets + i];
    if (count >= rank) {
      const bound = BUCKET_BOUNDS[i];
      if (!Number.isFinite(bound)) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevCount = count;
    prevBound = BUCKET_BOUNDS[i];
  }
  return prevBound;
}
