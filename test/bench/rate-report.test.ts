// Merging open-loop runs: percentiles over every recorded request of every run, counts summed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latencyHistogram, mergeReports, summarize } from '../../bench/lib/rate-report.ts';

function run(latenciesUs: number[], errors: number, achievedRate: number) {
  const latency = latencyHistogram();
  const lag = latencyHistogram();
  for (const v of latenciesUs) {
    latency.recordValue(v);
    lag.recordValue(10);
  }
  return summarize({ recorded: latenciesUs.length, errors, timedOut: 0, achievedRate }, latency, lag);
}

test('mergeReports takes percentiles over both runs, not an average of their percentiles', () => {
  // 99 fast requests in one run, 1 slow request in the other: the slow one is the merged p99.9's
  // and max, and the merged p50 is the fast runs'.
  const fast = run(Array(99).fill(100), 0, 1000);
  const slow = run([50_000], 1, 500);
  const merged = mergeReports([fast, slow]);
  assert.equal(merged.recorded, 100);
  assert.equal(merged.errors, 1);
  assert.ok(Math.abs(merged.latencyUs.p50 - 100) <= 1, String(merged.latencyUs.p50));
  assert.ok(Math.abs(merged.latencyUs.max - 50_000) <= 50, String(merged.latencyUs.max));
  assert.ok(merged.latencyUs.p999 >= 49_950, String(merged.latencyUs.p999));
  // Achieved rate weighted by requests: (99 × 1000 + 1 × 500) / 100.
  assert.equal(merged.achievedRate, 995);
  assert.equal(mergeReports([fast]), fast);
});
