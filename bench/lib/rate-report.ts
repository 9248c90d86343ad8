// The open-loop generator's report: counts, percentiles and the whole histograms, built from HdrHistograms.
import * as hdr from 'hdr-histogram-js';

/** What it prints. Latencies are in microseconds. */
export interface RateClientReport {
  /** Requests whose latency was recorded (after the warm-up). */
  recorded: number;
  /** Requests answered with a status other than 2xx, or lost with their connection. */
  errors: number;
  /** Requests still unanswered 10 s after the last send (recorded with their latency at that moment). */
  timedOut: number;
  /** Requests per second actually completed during the measured window. */
  achievedRate: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /**
   * How late the generator itself got to each request after its due time (timer wake-up, its
   * own event loop); time then spent waiting for a free connection is not in it (it is in the latency).
   */
  scheduleLagUs: { p50: number; p99: number; max: number };
  /**
   * Both histograms whole (HdrHistogram's compressed base64), so that a caller can merge runs
   * and take percentiles over all of them.
   */
  histograms: { latencyUs: string; scheduleLagUs: string };
}

/** The counts of a report (everything but what comes from the histograms). */
export type RateCounts = Pick<RateClientReport, 'recorded' | 'errors' | 'timedOut' | 'achievedRate'>;

/** A histogram of microseconds, 1 µs to 120 s, 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** A report from its counts and its two histograms (latency, and the generator's own lag). */
export function summarize(counts: RateCounts, latency: hdr.Histogram, lag: hdr.Histogram): RateClientReport {
  return {
    ...counts,
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

/**
 * One report for several runs of the same path: percentiles over the merged histograms (every
 * recorded request of every run), counts summed, the achieved rate averaged by requests.
 */
export function mergeReports(reports: readonly RateClientReport[]): RateClientReport {
  if (reports.length === 1) return reports[0];
  const merged = (pick: (r: RateClientReport) => string) => {
    const all = latencyHistogram();
    for (const r of reports) all.add(hdr.decodeFromCompressedBase64(pick(r)));
    return all;
  };
  const recorded = reports.reduce((n, r) => n + r.recorded, 0);
  return summarize(
    {
      recorded,
      errors: reports.reduce((n, r) => n + r.errors, 0),
      timedOut: reports.reduce((n, r) => n + r.timedOut, 0),
      achievedRate:
        recorded > 0 ? reports.reduce((n, r) => n + r.achievedRate * r.recorded, 0) / recorded : 0,
    },
    merged((r) => r.histograms.latencyUs),
    merged((r) => r.histograms.scheduleLagUs),
  );
}
