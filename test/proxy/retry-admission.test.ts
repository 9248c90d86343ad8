// Retry admission (max_retries, retry_budget) and jittered exponential back-off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster } from '../../src/proxy/cluster/cluster.ts';
import {
  admitRetry,
  backOffMs,
  DEFAULT_BACK_OFF,
  releaseRetry,
  retryLimit,
} from '../../src/proxy/cluster/retry-admission.ts';
import { ClusterStats } from '../../src/proxy/cluster/stats.ts';

function fakeCluster(circuitBreakers: Record<string, unknown>, active = 0): Cluster {
  return {
    active,
    stats: new ClusterStats(),
    config: {
      circuitBreakers: {
        maxConnections: 1024,
        maxPendingRequests: 1024,
        maxRequests: 1024,
        ...circuitBreakers,
      },
    },
  } as unknown as Cluster;
}

test('max_retries caps retries in flight; released slots are reusable; overflow is counted', () => {
  const c = fakeCluster({ maxRetries: 2 });
  assert.equal(admitRetry(c), 'admitted');
  assert.equal(admitRetry(c), 'admitted');
  assert.equal(admitRetry(c), 'overflow');
  assert.equal(c.stats.rqRetryOverflow, 1);
  releaseRetry(c);
  assert.equal(admitRetry(c), 'admitted');
});

test('retry_budget: a share of active requests, never below min_retry_concurrency', () => {
  const c = fakeCluster(
    { maxRetries: 1000, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } },
    100,
  );
  assert.equal(retryLimit(c), 20);
  (c as { active: number }).active = 5;
  assert.equal(retryLimit(c), 3);
  for (let i = 0; i < 3; i++) assert.equal(admitRetry(c), 'admitted');
  assert.equal(admitRetry(c), 'overflow');
});

test('back-off: uniform below min(base × 2^(n-1), max)', () => {
  assert.equal(
    backOffMs(DEFAULT_BACK_OFF, 1, () => 0.999),
    24,
  );
  assert.equal(
    backOffMs(DEFAULT_BACK_OFF, 2, () => 0.999),
    49,
  );
  assert.equal(
    backOffMs(DEFAULT_BACK_OFF, 3, () => 0.5),
    50,
  );
  assert.equal(
    backOffMs(DEFAULT_BACK_OFF, 9, () => 0.999),
    249,
  );
  assert.equal(
    backOffMs(DEFAULT_BACK_OFF, 1, () => 0),
    0,
  );
});

test('Linkerd ratio budget: retries ≤ ratio × requests + min per second × ttl over the window', () => {
  const c = fakeCluster({
    maxRetries: 1_000_000,
    retryRatio: { retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 },
  });
  const stats = c.stats;
  // 100 first attempts in the window: 0.2 × 100 + 1 × 10 = 30 retries allowed.
  stats.rqTotal = 100;
  let admitted = 0;
  for (let i = 0; i < 50; i++) {
    if (admitRetry(c, 1_000) === 'admitted') {
      admitted++;
      stats.rqTotal++;
      stats.rqRetry++;
      releaseRetry(c);
    }
  }
  assert.equal(admitted, 30);
  // Once the window has moved past those retries, the budget is available again.
  assert.equal(admitRetry(c, 2_500), 'overflow', 'the same window still counts the 30 retries');
  stats.rqTotal += 100;
  assert.equal(admitRetry(c, 13_000), 'admitted');
});
