// Runs the open-loop generator (bench/lib/rate-client.ts) as a child process and returns its report.
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { type BenchContext, REPO } from './context.ts';
import { runCommand } from './processes.ts';
import type { RateClientConfig, RateClientReport } from './rate-client.ts';

export type { RateClientConfig, RateClientReport };

/** Runs the generator once; throws with its output if it fails. */
export async function runRate(ctx: BenchContext, config: RateClientConfig): Promise<RateClientReport> {
  const result = await runCommand(
    'open-loop client',
    ctx.node,
    [join(REPO, 'bench', 'lib', 'rate-client.ts'), JSON.stringify(config)],
    { timeoutMs: (config.warmupS + config.durationS + 60) * 1000 },
  );
  if (result.code !== 0)
    throw new Error(
      `open-loop client exited with ${result.code ?? result.signal}:\n${result.stdout}${result.stderr}`,
    );
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RateClientReport;
}

/**
 * One report for several runs of the same path: percentiles over the merged histograms (every
 * recorded request of every run), counts summed, the achieved rate averaged by requests.
 */
export function mergeReports(reports: readonly RateClientReport[]): RateClientReport {
  if (reports.length === 1) return reports[0];
  const merged = (pick: (r: RateClientReport) => string) => {
    const all = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 120_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (const r of reports) all.add(hdr.decodeFromCompressedBase64(pick(r)));
    return all;
  };
  const latency = merged((r) => r.histograms.latencyUs);
  const lag = merged((r) => r.histograms.scheduleLagUs);
  const recorded = reports.reduce((n, r) => n + r.recorded, 0);
  return {
    recorded,
    errors: reports.reduce((n, r) => n + r.errors, 0),
    timedOut: reports.reduce((n, r) => n + r.timedOut, 0),
    achievedRate: recorded > 0 ? reports.reduce((n, r) => n + r.achievedRate * r.recorded, 0) / recorded : 0,
    latencyUs: {
      p50: latency.getValueAtPercentile(50),
      p90: latency.getValueAtPercentile(90),
      p99: latency.getValueAtPercentile(99),
      p999: latency.getValueAtPercentile(99.9),
      max: latency.maxValue,
      mean: latency.mean,
    },
    scheduleLagUs: {
      p50: lag.getValueAtPercentile(50),
      p99: lag.getValueAtPercentile(99),
      max: lag.maxValue,
    },
    histograms: {
      latencyUs: hdr.encodeIntoCompressedBase64(latency),
      scheduleLagUs: hdr.encodeIntoCompressedBase64(lag),
    },
  };
}
