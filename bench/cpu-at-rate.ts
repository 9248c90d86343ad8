// Benchmark: CPU seconds per 1k requests of one `weft proxy` (outbound listener, control-plane config) at a fixed rate, A/B across checkouts.
//
// Run: `node bench/cpu-at-rate.ts --roots /work/wt-ref3,. [--rate 1000] [--warmup 10] [--duration 15] [--rounds 6]`
// (needs `nginx`). One control plane (this checkout's) configures a sidecar started from each root's
// own `bin/weft.js`, as bench/memory.ts starts its "one weft proxy" row; the open-loop client
// (lib/rate-client.ts) sends `--rate` requests a second over 50 keep-alive connections. Each round
// measures every root in turn (A, B, A, B, ...), each sidecar after `--warmup` seconds at the rate
// before its first window, so the machine's load hits all alike; the figure is the proxy's
// CPU time from the scheduler (schedstat, exact) per 1k requests, with its context switches per
// request (waits, preemptions), and per root the median of its rounds' ratios to A.
// `--together` loads all roots at the same time instead (each at the rate): a pair of windows then
// meets exactly the same neighbours, which on a shared machine varies more between windows than
// the roots differ. `--cpu-prof DIR` writes a V8 CPU profile of each proxy on exit, `--node-options '--perf-basic-prof'`
// passes NODE_OPTIONS to the sidecars only (e.g. for `perf record -p`; the pids are printed), `--node-options-B '...'`
// to root B's only (a Node flag A/B: `--roots .,. --node-options-B '--flag'`). Nothing is written to docs/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchContext, QUICK } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { freePort } from './lib/ports.ts';
import { installCleanup, stopAll } from './lib/processes.ts';
import { cpuSeconds, processTree, systemCpuSeconds, taskDirs, threadRunSeconds } from './lib/procfs.ts';
import { runRate } from './lib/rate.ts';
import { findTools } from './lib/tools.ts';
import { type ControlPlane, mustApply, serviceEntryYaml, startControlPlane, startProxy } from './lib/weft.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const roots = arg('--roots', '.')
  .split(',')
  .map((r) => resolve(r));
const rate = Number(arg('--rate', '1000'));
const warmupS = Number(arg('--warmup', '10'));
const durationS = Number(arg('--duration', '15'));
const rounds = Number(arg('--rounds', '6'));
const cpuProf = arg('--cpu-prof', '');
const nodeOptions = arg('--node-options', '');
/** Load every sidecar at once (each at `--rate`): all meet the same machine at the same moment. */
const together = process.argv.includes('--together');

/** One root's sidecar, configured with its own ServiceEntry. */
interface Sidecar {
  root: string;
  pid: number;
  port: number;
  host: string;
  perThousand: number[];
}

async function startSidecar(ctx: BenchContext, cp: ControlPlane, root: string, i: number, backend: number) {
  const name = `cpu-backend-${i}`;
  const host = `${name}.bench.local`;
  await mustApply(
    ctx,
    cp,
    name,
    serviceEntryYaml({ name, host, port: 80, protocol: 'HTTP', targetPort: backend }),
  );
  // Extra Node options reach only the sidecar (its own flags are added by `weft proxy` as usual).
  const prof = cpuProf === '' ? '' : `--cpu-prof --cpu-prof-dir=${cpuProf} --cpu-prof-name=${i}.cpuprofile`;
  // `--node-options-B '--some-flag'`: a variant of a checkout, e.g. `--roots .,. --node-options-B ...`.
  const own = arg(`--node-options-${String.fromCharCode(65 + i)}`, '');
  const options = `${nodeOptions} ${own} ${prof}`.trim();
  const before = process.env.NODE_OPTIONS;
  if (options !== '') process.env.NODE_OPTIONS = options;
  try {
    const proxy = await startProxy(ctx, cp, {
      service: `cpu-edge-${i}`,
      appPort: await freePort(),
      bin: join(root, 'bin', 'weft.js'),
    });
    return { root, pid: proxy.child.pid, port: proxy.ports.outbound, host, perThousand: [] } as Sidecar;
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

async function measure(ctx: BenchContext, s: Sidecar): Promise<string> {
  const load = { port: s.port, host: s.host, path: '/', rate, connections: 50 };
  // The JIT's warm-up (docs/design/tail-latency.md) runs once, before a sidecar's first window.
  if (s.perThousand.length === 0) await runRate(ctx, { ...load, warmupS: 0, durationS: warmupS });
  const pids = processTree(s.pid);
  const [run0, cpu0, sys0, sw0] = [
    runSeconds(pids),
    cpuSeconds(pids),
    systemCpuSeconds(pids),
    switches(pids),
  ];
  const r = await runRate(ctx, { ...load, warmupS: 0, durationS });
  const [run, cpu, sys] = [runSeconds(pids) - run0, cpuSeconds(pids) - cpu0, systemCpuSeconds(pids) - sys0];
  const sw = switches(pids);
  const k = r.recorded / 1000;
  s.perThousand.push(run / k);
  const failed = r.errors + r.timedOut;
  const perRequest = (n: number) => (n / r.recorded).toFixed(2);
  return (
    `${(run / k).toFixed(4)} CPU s/1k (clock ticks: ${(cpu / k).toFixed(4)}, of which sys ${(sys / k).toFixed(4)}), ` +
    `${r.recorded} requests${failed ? `, ${failed} failed` : ''}, load ${loadavg()[0].toFixed(2)}, ` +
    `switches per request ${perRequest(sw.voluntary - sw0.voluntary)} waits, ${perRequest(sw.involuntary - sw0.involuntary)} preempted`
  );
}

/**
 * CPU seconds the threads of `pids` have run, from the scheduler's exact accounting
 * (/proc/PID/task/TID/schedstat, in ns). utime and stime are sampled at each clock tick (100 Hz):
 * a sidecar at 10 % of a core gets ~150 ticks in 15 s, ±8 % from sampling alone.
 */
function runSeconds(pids: readonly number[]): number {
  return taskDirs(pids).reduce((s, task) => s + threadRunSeconds(task), 0);
}

/**
 * Context switches of the threads of `pids` (/proc/PID/task/TID/status): voluntary ones are waits
 * for I/O (about two per request), involuntary ones are preemptions by other processes, so they
 * show how much a window met the machine's load.
 */
function switches(pids: readonly number[]): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  for (const task of taskDirs(pids)) {
    const status = readFileSync(`${task}/status`, 'latin1');
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'weft-cpu-rate-'));
  if (cpuProf !== '') mkdirSync(cpuProf, { recursive: true });
  installCleanup(async () => rmSync(tmp, { recursive: true, force: true }));
  const ctx: BenchContext = {
    quick: false,
    durations: QUICK,
    tools: findTools(),
    tmp,
    node: process.execPath,
    cores: 2,
    log: (m) => console.error(m),
  };
  try {
    const backendPort = await freePort();
    await startNginxBackend(ctx, backendPort);
    const cp = await startControlPlane(ctx);
    const sidecars: Sidecar[] = [];
    for (const [i, root] of roots.entries()) sidecars.push(await startSidecar(ctx, cp, root, i, backendPort));
    for (const [i, s] of sidecars.entries())
      console.log(`${String.fromCharCode(65 + i)}: ${s.root}, pid ${s.pid}`);
    for (let round = 0; round < rounds; round++) {
      const label = (i: number) => `round ${round} ${String.fromCharCode(65 + i)} (${sidecars[i].root})`;
      if (together) {
        const lines = await Promise.all(sidecars.map((s) => measure(ctx, s)));
        for (const [i, line] of lines.entries()) console.log(`${label(i)}: ${line}`);
      } else for (const [i, s] of sidecars.entries()) console.log(`${label(i)}: ${await measure(ctx, s)}`);
    }
    const a = sidecars[0].perThousand;
    const meanA = a.reduce((x, y) => x + y, 0) / a.length;
    for (const [i, s] of sidecars.entries()) {
      const mean = s.perThousand.reduce((x, y) => x + y, 0) / s.perThousand.length;
      // Each round's ratio to A's window of the same round, so that a noisy stretch cancels out.
      const ratios = s.perThousand.map((v, r) => v / a[r]).sort((x, y) => x - y);
      const median = ratios[Math.floor(ratios.length / 2)];
      console.log(
        `${String.fromCharCode(65 + i)} mean ${mean.toFixed(4)} CPU s/1k (${(mean / meanA).toFixed(3)}× A; ` +
          `median of the rounds' ratios ${median.toFixed(3)}, range ${ratios[0].toFixed(3)}-${ratios[ratios.length - 1].toFixed(3)})`,
      );
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
