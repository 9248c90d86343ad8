// Resource use of a process tree from /proc: CPU seconds (utime + stime) and resident memory.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
const CLOCK_TICKS = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

interface StatFields {
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** stime (in the kernel on the process's behalf), in clock ticks. */
  systemTicks: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), systemTicks: Number(rest[12]) };
}

/** `pid` and all of its descendants (nginx's master and worker, a multi-process proxy). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const siblings = parents.get(stat.ppid) ?? [];
    siblings.push(Number(entry));
    parents.set(stat.ppid, siblings);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]) ?? []));
  return tree;
}

/** CPU seconds (user + system) used so far by these processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}

/** The /proc directory of every thread of these processes (`/proc/PID/task/TID`). */
export function taskDirs(pids: readonly number[]): string[] {
  return pids.flatMap((pid) => readdirSync(`/proc/${pid}/task`).map((tid) => `/proc/${pid}/task/${tid}`));
}

/** CPU seconds one thread (a `taskDirs` entry) ran, from the scheduler (`schedstat`, ns): exact, unlike utime + stime's clock ticks. */
export function threadRunSeconds(task: string): number {
  return Number(readFileSync(`${task}/schedstat`, 'latin1').split(' ')[0]) / 1e9;
}

/** CPU seconds these processes spent in the kernel (stime) so far. */
export function systemCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.systemTicks ?? 0;
  return ticks / CLOCK_TICKS;
}

/** Resident set size (VmRSS) of these processes, summed, in bytes. */
export function rssBytes(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (match) kb += Number(match[1]);
    } catch {
      // the process ended
    }
  }
  return kb * 1024;
}

/** Resident memory of processes split by sharing (from /proc/PID/smaps_rollup), summed, in bytes. */
export interface MemoryBreakdown {
  /** VmRSS: every resident page mapped, shared ones counted in full. */
  rss: number;
  /** Pages only these processes map (Private_Clean + Private_Dirty): what one more such process costs. */
  private: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  pss: number;
}

/** RSS, private and proportional memory of these processes (zeros for any that ended). */
export function memoryBreakdown(pids: readonly number[]): MemoryBreakdown {
  const sum: MemoryBreakdown = { rss: 0, private: 0, pss: 0 };
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    } catch {
      continue;
    }
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    sum.rss += kb('Rss');
    sum.pss += kb('Pss');
    sum.private += kb('Private_Clean') + kb('Private_Dirty');
  }
  return sum;
}

/** What a ResourceSampler saw between start and stop. */
export interface ResourceUse {
  /** CPU seconds used by the tree during the window. */
  cpuSeconds: number;
  /** Highest summed RSS sampled during the window, in bytes. */
  peakRssBytes: number;
}

/** Samples a process tree's RSS while a load runs and measures the CPU it used. */
export class ResourceSampler {
  private readonly pids: number[];
  private readonly cpuAtStart: number;
  private peak: number;
  private readonly timer: NodeJS.Timeout;

  /** Starts sampling the tree rooted at `pid` every `intervalMs`. */
  constructor(pid: number, intervalMs = 250) {
    this.pids = processTree(pid);
    this.cpuAtStart = cpuSeconds(this.pids);
    this.peak = rssBytes(this.pids);
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, rssBytes(this.pids));
    }, intervalMs);
  }

  stop(): ResourceUse {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, rssBytes(this.pids));
    return { cpuSeconds: cpuSeconds(this.pids) - this.cpuAtStart, peakRssBytes: this.peak };
  }
}

/** Machine-wide busy CPU time and the harness's own (with its reaped children), at one moment. */
export interface CpuSnapshot {
  /** Monotonic wall clock, seconds. */
  wallS: number;
  /** CPU seconds all cores spent busy since boot (/proc/stat: user, nice, system, irq, softirq, steal). */
  busyS: number;
  /** CPU seconds of this process plus its children that have exited and been waited for. */
  ownS: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const cpu = /^cpu\s+(.+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1].split(/\s+/).map(Number) ?? [];
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  const text = readFileSync('/proc/self/stat', 'latin1');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields 14-17: utime, stime, cutime, cstime
  const own = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  return {
    wallS: Number(process.hrtime.bigint()) / 1e9,
    busyS: (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS,
    ownS: own / CLOCK_TICKS,
  };
}

/**
 * Cores used on average, between two snapshots, by processes that are not the harness or its
 * children: the noise a benchmark ran under. Valid when every child started in between has
 * exited by `b` (each benchmark stops its children before it returns).
 */
export function othersCores(a: CpuSnapshot, b: CpuSnapshot): number {
  const wall = b.wallS - a.wallS;
  if (wall <= 0) return 0;
  return Math.max(0, b.busyS - a.busyS - (b.ownS - a.ownS)) / wall;
}
