// Benchmark: CPU seconds per 1k requests of one `weft proxy` (outbound listener, control-plane config) at a fixed rate, A/B across checkouts.
//
// Run: `node bench/cpu-at-rate.ts --roots /work/wt-ref3,. [--rate 1000] [--warmup 10] [--duration 30] [--rounds 3]`
// (needs `nginx`). One control plane (this checkout's) configures a sidecar started from each root's
// own `bin/weft.js`, as bench/memory.ts starts its "one weft proxy" row; the open-loop client
// (lib/rate-client.ts) sends `--rate` requests a second over 50 keep-alive connections. Each round
// measures every root in turn (A, B, A, B, ...) after `--warmup` seconds at the rate, so the machine's
// load hits all alike; the figure is the proxy's utime+stime from /proc per 1k requests.
// `--cpu-prof DIR` writes a V8 CPU profile of each proxy on exit, `--node-options '--perf-basic-prof'`
// passes NODE_OPTIONS to the sidecars only (e.g. for `perf record -p`; the pids are printed). Nothing is written to docs/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchContext, QUICK } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { freePort } from './lib/ports.ts';
import { stopAll } from './lib/processes.ts';
import { cpuSeconds, processTree, systemCpuSeconds } from './lib/procfs.ts';
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
const durationS = Number(arg('--duration', '30'));
const rounds = Number(arg('--rounds', '3'));
const cpuProf = arg('--cpu-prof', '');
const nodeOptions = arg('--node-options', '');

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
  const options = `${nodeOptions} ${prof}`.trim();
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
  await runRate(ctx, { ...load, warmupS: 0, durationS: warmupS });
  const pids = processTree(s.pid);
  const [cpu0, sys0] = [cpuSeconds(pids), systemCpuSeconds(pids)];
  const r = await runRate(ctx, { ...load, warmupS: 0, durationS });
  const [cpu, sys] = [cpuSeconds(pids) - cpu0, systemCpuSeconds(pids) - sys0];
  const k = r.recorded / 1000;
  s.perThousand.push(cpu / k);
  const failed = r.errors + r.timedOut;
  return `${(cpu / k).toFixed(4)} CPU s/1k (user ${((cpu - sys) / k).toFixed(4)}, sys ${(sys / k).toFixed(4)}), ${r.recorded} requests${failed ? `, ${failed} failed` : ''}, load ${loadavg()[0].toFixed(2)}`;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'weft-cpu-rate-'));
  if (cpuProf !== '') mkdirSync(cpuProf, { recursive: true });
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
    for (let round = 0; round < rounds; round++)
      for (const [i, s] of sidecars.entries())
        console.log(`round ${round} ${String.fromCharCode(65 + i)} (${s.root}): ${await measure(ctx, s)}`);
    for (const [i, s] of sidecars.entries()) {
      const mean = s.perThousand.reduce((a, b) => a + b, 0) / s.perThousand.length;
      const vsA =
        mean / (sidecars[0].perThousand.reduce((a, b) => a + b, 0) / sidecars[0].perThousand.length);
      console.log(`${String.fromCharCode(65 + i)} mean ${mean.toFixed(4)} CPU s/1k (${vsA.toFixed(3)}× A)`);
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
