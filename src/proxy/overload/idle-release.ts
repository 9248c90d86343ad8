// Gives memory back to the host when the process goes idle: after start-up, and after each burst that grew it.
//
// V8 keeps the heap pages that start-up or a burst made it commit until a full GC, and an idle
// process does not allocate, so none comes: a sidecar stayed at its peak (~110 MB private after a
// gRPC burst, ~39 MB after one such GC; ~34 MB idle after start-up, ~26 MB after it;
// docs/design/sidecar-memory.md). This runs that GC only when the event loop is nearly idle, so it
// never pauses traffic: at the first idle look (four in a row, which also drop start-up's
// bytecode: V8 drops a function's bytecode at the sixth full GC it was not called in), after 8 MB
// of growth, after 1 MB once the process has been idle 5 s in a row for the first time (it has
// settled: config, first connections and requests), and after 1 MB once it has been idle 30 s in
// a row, at most once a minute. The collections after start-up switch V8's bytecode flushing off
// while they run, and pauses in traffic shorter than 30 s start none: a smaller threshold after
// 2 s of quiet made the mesh path's p99 at 1,000 req/s ~1 ms worse when traffic came back.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { environment } from '../../env.ts';
import { loadMallocTrim, type MallocTrim, mallocTrimEnabled } from './malloc-trim.ts';

/** Settings of the idle release (defaults are what `weft proxy` uses). */
export interface IdleReleaseConfig {
  /**
   * Runs a full, synchronous GC (`globalThis.gc` with --expose-gc); with `keepCode` it leaves the
   * bytecode of functions alone (neither ages nor drops it), so that traffic coming back after
   * the collection does not compile its path again.
   */
  collect: (keepCode: boolean) => void;
  /**
   * Runs after each collection (the collections first: they free what V8 and Node will free):
   * gives back malloc memory freed in the middle of the arena (malloc_trim; true when it did).
   */
  trim?: () => boolean;
  /** How often the process is looked at (ms). */
  intervalMs?: number;
  /** Event-loop utilization (0..1) over the last interval under which the process counts as idle. */
  idleUtilization?: number;
  /** Resident growth since the last collection that makes another worth it (bytes); the first idle look always collects. */
  growthBytes?: number;
  /**
   * Collections in a row at the first idle look after the process started: V8 drops the bytecode
   * of a function not called during six full GCs (--bytecode-old-age), and a last-resort collection
   * is two full GCs, so the third drops the bytecode of start-up's code (config parsing, listener
   * set-up) and the fourth gives back the pages that freed (~0.6 MB idle).
   */
  startUpCollections?: number;
  /**
   * Idle looks in a row after which a process that started has settled (its config, first
   * connections and requests): its first collection for quietGrowthBytes needs only these.
   */
  settledLooks?: number;
  /** Idle looks in a row after which the process counts as quiet (traffic stopped, not paused). */
  quietLooks?: number;
  /** Growth since the last collection that a quiet process gives back (bytes; under growthBytes). */
  quietGrowthBytes?: number;
  /** Looks between two collections for quietGrowthBytes at least (bounds their cost under on-off traffic). */
  quietEveryLooks?: number;
  /** Resident bytes now; default process.memoryUsage.rss(). */
  rss?: () => number;
  /** Event-loop utilization since the previous call; default from perf_hooks. */
  utilization?: () => number;
}

export class IdleRelease {
  private readonly config: Required<IdleReleaseConfig>;
  private timer: NodeJS.Timeout | undefined;
  /** Resident size after the last collection (0 before the first: start-up counts as growth). */
  private baseline = 0;
  /** Idle looks in a row so far. */
  private idleLooks = 0;
  /** Looks since the last collection that a quiet process's smaller growth started. */
  private sinceQuiet = Number.POSITIVE_INFINITY;
  /** Collections that a quiet process's smaller growth started. */
  private quietCollections = 0;
  /** Collections run so far (the first is start-up's, several full GCs). */
  collections = 0;
  /** Collections after which the trim gave memory back to the kernel. */
  trimmed = 0;

  constructor(config: IdleReleaseConfig) {
    let last = performance.eventLoopUtilization();
    this.config = {
      intervalMs: 1000,
      idleUtilization: 0.05,
      growthBytes: 8 * 1024 * 1024,
      startUpCollections: 4,
      settledLooks: 5,
      quietLooks: 30,
      quietGrowthBytes: 1024 * 1024,
      quietEveryLooks: 60,
      trim: () => false,
      rss: () => process.memoryUsage.rss(),
      utilization: () => {
        const now = performance.eventLoopUtilization();
        const u = performance.eventLoopUtilization(now, last).utilization;
        last = now;
        return u;
      },
      ...config,
    };
  }

  /** Looks every interval (the timer does not keep the process alive). */
  start(): void {
    this.timer ??= setInterval(() => this.check(), this.config.intervalMs);
    this.timer.unref();
  }

  /**
   * A start-up happened (the process's, or a node agent's new workload): its garbage counts as
   * growth, so the next idle look collects whatever the growth since the last collection.
   */
  startedUp(): void {
    this.baseline = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: collects when idle and grown; returns whether it collected. */
  check(): boolean {
    const c = this.config;
    const idle = c.utilization() < c.idleUtilization;
    this.idleLooks = idle ? this.idleLooks + 1 : 0;
    this.sinceQuiet++;
    const rss = c.rss();
    // A process that shrank on its own moves the baseline down: growth counts from its lowest point.
    if (rss < this.baseline) this.baseline = rss;
    if (!idle) return false;
    const grown = rss - this.baseline;
    const quietAfter = this.quietCollections === 0 ? c.settledLooks : c.quietLooks;
    const quiet = this.idleLooks >= quietAfter && this.sinceQuiet >= c.quietEveryLooks;
    if (grown < c.growthBytes && !(quiet && grown >= c.quietGrowthBytes)) return false;
    if (grown < c.growthBytes) {
      this.sinceQuiet = 0;
      this.quietCollections++;
    }
    // Start-up's bytecode goes; what traffic compiled after it stays.
    if (this.collections === 0) for (let i = 0; i < c.startUpCollections; i++) c.collect(false);
    else c.collect(true);
    if (c.trim()) this.trimmed++;
    this.collections++;
    this.baseline = c.rss();
    return true;
  }
}

let processRelease: IdleRelease | undefined;

/**
 * Starts the process's idle release once (a node agent's workloads share it); each call is a
 * start-up, collected at the next idle look (without that, what a node agent's new workloads left
 * stayed resident until 8 MB of it had piled up). Without
 * --expose-gc (`weft proxy` and `weft node` add it, bin/sidecar-flags.js) there is no GC to call:
 * returns undefined and nothing runs. After each collection it calls glibc's malloc_trim (its addon
 * loaded at the first one: src/proxy/overload/malloc-trim.ts) unless WEFT_MALLOC_TRIM=off.
 */
export function startIdleRelease(): IdleRelease | undefined {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc;
  if (typeof gc !== 'function') return undefined;
  const trimming = mallocTrimEnabled(environment.mallocTrim);
  let trim: MallocTrim | undefined | null = trimming ? null : undefined;
  // V8's "last resort" flavour: full GCs that also release the pages V8 pools for reuse. A plain
  // gc() leaves them resident (measured: ~106 MB private before and after it; ~37 MB after this).
  processRelease ??= new IdleRelease({
    collect: (keepCode) => {
      const toggle = keepCode && !userSetCodeFlushing();
      if (toggle) setFlagsFromString('--no-flush-bytecode');
      try {
        gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      } finally {
        if (toggle) setFlagsFromString('--flush-bytecode');
      }
    },
    trim: () => {
      if (trim === null) trim = loadMallocTrim(environment.mallocTrimAddon);
      return trim?.() ?? false;
    },
  });
  processRelease.start();
  processRelease.startedUp();
  return processRelease;
}

/** Whether the user chose V8's bytecode flushing (on the command line or in NODE_OPTIONS): then it is never switched. */
function userSetCodeFlushing(): boolean {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return given.some((a) => /^--(no-)?flush[-_]bytecode(=|$)/.test(a));
}
