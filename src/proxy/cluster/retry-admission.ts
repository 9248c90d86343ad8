// Whether a retry may start: Envoy's max_retries or retry_budget, Linkerd's ratio budget, per cluster; plus back-off.
import type { Cluster } from './cluster.ts';

/** The outcome of asking for a retry. */
export type RetryAdmission = 'admitted' | 'overflow';

/** Retries in flight per cluster (admitted, backing off or attempting; released when that attempt ends). */
const inFlight = new WeakMap<Cluster, number>();

/** How many retries may be in flight to `cluster` right now. */
export function retryLimit(cluster: Cluster): number {
  const cb = cluster.config.circuitBreakers;
  if (!cb.retryBudget) return cb.maxRetries;
  // Envoy: a share of the active requests (retries count among them), never below the minimum.
  const active = cluster.active + (inFlight.get(cluster) ?? 0);
  return Math.max(
    cb.retryBudget.minRetryConcurrency,
    Math.floor((cb.retryBudget.budgetPercent / 100) * active),
  );
}

/** Cumulative requests (first attempts) and admitted retries of a cluster at one moment. */
interface RatioSample {
  at: number;
  requests: number;
  retries: number;
}

/** Per cluster: samples at most one second apart over the budget's window, and retries admitted so far. */
const ratioState = new WeakMap<Cluster, { samples: RatioSample[]; retries: number }>();

/**
 * Linkerd's budget: over the last ttl, retries ≤ retryRatio × requests + minRetriesPerSecond ×
 * ttl seconds. Requests are the cluster's first attempts (upstream_rq_total − upstream_rq_retry).
 */
function ratioAllows(cluster: Cluster, now: number): boolean {
  const budget = cluster.config.circuitBreakers.retryRatio;
  if (!budget) return true;
  let state = ratioState.get(cluster);
  if (!state) {
    // The first window counts every request since the cluster started (its counters begin at 0).
    state = { samples: [{ at: now, requests: 0, retries: 0 }], retries: 0 };
    ratioState.set(cluster, state);
  }
  const requests = cluster.stats.rqTotal - cluster.stats.rqRetry;
  const samples = state.samples;
  if (samples.length === 0 || now - samples[samples.length - 1].at >= 1000)
    samples.push({ at: now, requests, retries: state.retries });
  // Keep one sample at or before the window's start as the base.
  while (samples.length > 1 && samples[1].at <= now - budget.ttlMs) samples.shift();
  const base = samples[0];
  const windowRequests = requests - base.requests;
  const windowRetries = state.retries - base.retries;
  const allowance = budget.retryRatio * windowRequests + (budget.minRetriesPerSecond * budget.ttlMs) / 1000;
  if (windowRetries + 1 > allowance) return false;
  state.retries++;
  return true;
}

/** Takes a retry slot of `cluster`, or counts `upstream_rq_retry_overflow` and refuses. */
export function admitRetry(cluster: Cluster, now = performance.now()): RetryAdmission {
  const running = inFlight.get(cluster) ?? 0;
  if (running >= retryLimit(cluster) || !ratioAllows(cluster, now)) {
    cluster.stats.rqRetryOverflow++;
    return 'overflow';
  }
  inFlight.set(cluster, running + 1);
  return 'admitted';
}

/** Gives back a slot taken by admitRetry. */
export function releaseRetry(cluster: Cluster): void {
  const running = inFlight.get(cluster) ?? 0;
  if (running > 0) inFlight.set(cluster, running - 1);
}

/** Envoy's retry_back_off (defaults: base 25 ms, max 10 × base). */
export interface BackOff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACK_OFF: BackOff = { baseMs: 25, maxMs: 250 };

/**
 * The wait before the `n`-th retry (1-based): fully jittered exponential back-off, uniform in
 * [0, min(base × 2^(n-1), max)), as Envoy's JitteredExponentialBackOffStrategy.
 */
export function backOffMs(backOff: BackOff, n: number, random = Math.random): number {
  const ceiling = Math.min(backOff.baseMs * 2 ** Math.max(0, Math.min(n - 1, 30)), backOff.maxMs);
  return Math.floor(random() * ceiling);
}
