// Whether a retry may start: Envoy's max_retries circuit breaker or its retry_budget, per cluster; plus retry back-off.
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

/** Takes a retry slot of `cluster`, or counts `upstream_rq_retry_overflow` and refuses. */
export function admitRetry(cluster: Cluster): RetryAdmission {
  const running = inFlight.get(cluster) ?? 0;
  if (running >= retryLimit(cluster)) {
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
