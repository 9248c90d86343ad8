// What every benchmark receives: durations (full or --quick), tool paths, a temp dir, logging.
import { fileURLToPath } from 'node:url';
import type { ToolName, ToolPaths } from './tools.ts';

/** The repository root (bench/lib/ is two levels below it). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Durations and sizes of one run. */
export interface Durations {
  /** Closed-loop warm-up before each measured wrk run (s); its figures are discarded. */
  warmupS: number;
  /** Closed-loop measured run (s). */
  measureS: number;
  /** Open-loop warm-up at the target rate before each measured round (s): long enough for the JIT to settle. */
  openLoopWarmupS: number;
  /** Open-loop first run of each freshly started path (s), recorded apart from the rounds. */
  openLoopFreshS: number;
  /** Open-loop measured run (s). */
  openLoopS: number;
  /** Bytes moved per opaque TCP transfer. */
  tcpBytes: number;
  /** How long a proxy sits idle before its idle memory is read (s). */
  idleSettleS: number;
}

export const FULL: Durations = {
  warmupS: 2,
  measureS: 10,
  // A sidecar's JIT optimizes its request path over ~8 s of traffic, again after a pause (design/tail-latency.md).
  openLoopWarmupS: 8,
  openLoopFreshS: 10,
  openLoopS: 20,
  tcpBytes: 1024 * 1024 * 1024,
  // Long enough for the proxy's idle release (one full GC once idle after start-up) to have run.
  idleSettleS: 10,
};

export const QUICK: Durations = {
  warmupS: 1,
  measureS: 2,
  openLoopWarmupS: 1,
  openLoopFreshS: 1,
  openLoopS: 3,
  tcpBytes: 64 * 1024 * 1024,
  idleSettleS: 1,
};

/** Shared by every benchmark of one run. */
export interface BenchContext {
  /** --quick: short durations for a smoke run (figures not for comparison). */
  quick: boolean;
  durations: Durations;
  tools: ToolPaths;
  /** A temp directory for this run (config files, data dirs); removed at the end. */
  tmp: string;
  /** Node binary that runs weft and the Node-based helpers (the pinned Node 24). */
  node: string;
  /** CPU cores of the machine (the multi-core mode gets this many workers). */
  cores: number;
  /** --reference: another checkout of weft (an earlier commit) whose proxy runs beside this one's. */
  reference?: { root: string; commit: string };
  /** Progress line on stderr. */
  log(message: string): void;
}

/** One benchmark: a section of docs/benchmarks.md. */
export interface Benchmark {
  /** Section marker and --only name; the file is bench/NAME.ts. */
  name: string;
  /** Section heading. */
  title: string;
  /** External tools it runs. */
  tools: readonly ToolName[];
  /** A script owned by another part that writes its own section: a failure leaves that section as it was. */
  external?: true;
  /**
   * Runs it and returns the section's markdown (below the heading), or undefined when it
   * wrote its own section (a benchmark run as a separate script).
   */
  run(ctx: BenchContext): Promise<string | undefined>;
}
