// A/B of the mTLS mesh path's tail at a fixed rate: several weft mesh pairs (checkouts, V8 flags) and direct, in alternating rounds.
//
// Run: `node bench/tail-ab.ts [--rounds 4] [--seconds 10] [--warmup 2] [--rate 1000] [--prewarm S [--prewarm-only a,b]] [--haproxy] VARIANT...`
// VARIANT is `name=ROOT[,node-flag...]`: a mesh pair (client and server sidecar) started from the
// checkout ROOT's bin/weft.js with those Node/V8 flags before the script, e.g.
// `base=/work/main new=.,--single-threaded-gc`. Every round measures every path once (in a
// rotated order), 1,000 req/s over 50 connections with bench/lib/rate-client.ts; it prints each
// round's p50/p99/p99.9 added over direct and the sidecars' CPU µs per request (the pair's, and
// each sidecar's), then the merged histograms' figures and each sidecar's CPU per thread since its
// start (main thread; V8Worker, mostly the JIT). `--prewarm S` first loads every path once for S seconds (not recorded: a fresh
// sidecar's first seconds, JIT warm-up, reported apart; `--prewarm-only` names the paths it
// applies to, e.g. one of two identical pairs). `--haproxy` adds the HAProxy mTLS pair as a reference. Nothing is written to docs/.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchContext } from './lib/context.ts';
import { FULL } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { type RunningPath, startMesh, startPath } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { installCleanup } from './lib/processes.ts';
import { cpuSeconds, processTree, taskDirs, threadRunSeconds } from './lib/procfs.ts';
import { mergeReports, type RateClientReport, runRate } from './lib/rate.ts';
import { findTools } from './lib/tools.ts';
import { startControlPlane } from './lib/weft.ts';

interface Options {
  rounds: number;
  seconds: number;
  warmup: number;
  rate: number;
  /** Seconds of load on each path, once, before the rounds (not recorded): a fresh sidecar's JIT warm-up. */
  prewarm: number;
  /** The paths --prewarm applies to (default: all), e.g. one of two identical pairs, to see what warm-up changes. */
  prewarmOnly: string[] | undefined;
  haproxy: boolean;
  variants: { name: string; root: string; nodeArgs: string[] }[];
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    rounds: 4,
    seconds: 10,
    warmup: 2,
    rate: 1000,
    prewarm: 0,
    prewarmOnly: undefined,
    haproxy: false,
    variants: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--haproxy') o.haproxy = true;
    else if (a === '--prewarm-only') o.prewarmOnly = (argv[++i] ?? '').split(',');
    else if (['--rounds', '--seconds', '--warmup', '--rate', '--prewarm'].includes(a)) {
      const n = Number(argv[++i]);
      if (!(n > 0)) throw new Error(`${a} needs a positive number`);
      o[a.slice(2) as 'rounds' | 'seconds' | 'warmup' | 'rate' | 'prewarm'] = n;
    } else {
      const m = /^([\w.-]+)=([^,]+)((?:,.+)?)$/.exec(a);
      if (!m) throw new Error(`not a variant (name=ROOT[,flag...]): ${a}`);
      o.variants.push({ name: m[1], root: resolve(m[2]), nodeArgs: m[3].split(',').filter((f) => f) });
    }
  }
  if (o.variants.length === 0) throw new Error('give at least one variant: name=ROOT[,node-flag...]');
  return o;
}

interface Measured {
  name: string;
  path: RunningPath;
  reports: RateClientReport[];
  cpuUsPerReq: number[];
  /** Per round, each sidecar's CPU µs per request (client, server). */
  roleUsPerReq: number[][];
}

const ms = (us: number) => (us / 1000).toFixed(3);
const added = (r: RateClientReport, d: RateClientReport, k: 'p50' | 'p99' | 'p999') =>
  `${r.latencyUs[k] - d.latencyUs[k] >= 0 ? '+' : ''}${ms(r.latencyUs[k] - d.latencyUs[k])}`;

function line(
  name: string,
  r: RateClientReport,
  d: RateClientReport,
  cpuUs: number | undefined,
  roles: string,
): string {
  const cpu = cpuUs === undefined ? '' : `  cpu ${cpuUs.toFixed(0)} µs/req${roles}`;
  const errs = r.errors + r.timedOut > 0 ? `  ERRORS ${r.errors + r.timedOut}` : '';
  return `${name.padEnd(10)} p50 ${added(r, d, 'p50')}  p99 ${added(r, d, 'p99')}  p99.9 ${added(r, d, 'p999')}  (p99 ${ms(r.latencyUs.p99)})${cpu}${errs}`;
}

/** CPU seconds of each thread of `pid` so far (schedstat), by name: the main thread's and V8's worker's (the JIT). */
function threadCpu(pid: number): string {
  const byName = new Map<string, number>();
  for (const task of taskDirs([pid])) {
    const name = readFileSync(`${task}/comm`, 'utf8').trim();
    byName.set(name, (byName.get(name) ?? 0) + threadRunSeconds(task));
  }
  return [...byName]
    .filter(([, s]) => s >= 0.005)
    .map(([name, s]) => `${name} ${s.toFixed(2)} s`)
    .join(', ');
}

/** Each proxy's CPU µs per request over `rounds` (their mean), e.g. ` (server 95, client 120)`; empty for one proxy. */
function roleCpu(p: Measured, rounds: number[]): string {
  if (p.path.proxies.length < 2) return '';
  const each = p.path.proxies.map((x, i) => {
    const us = rounds.reduce((a, r) => a + p.roleUsPerReq[r][i], 0) / rounds.length;
    return `${x.role.replace(/^weft /, '').replace(/ sidecar$/, '')} ${us.toFixed(0)}`;
  });
  return ` (${each.join(', ')})`;
}

async function main(o: Options): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'weft-tail-ab-'));
  installCleanup(async () => rmSync(tmp, { recursive: true, force: true }));
  const ctx: BenchContext = {
    quick: false,
    durations: FULL,
    tools: findTools(),
    tmp,
    node: process.execPath,
    cores: cpus().length,
    log: (m) => process.stderr.write(`[tail-ab ${new Date().toISOString().slice(11, 19)}] ${m}\n`),
  };
  const backendPort = await freePort();
  const backend = await startNginxBackend(ctx, backendPort);
  const cp = await startControlPlane(ctx);
  const paths: Measured[] = [];
  const add = (name: string, path: RunningPath) =>
    paths.push({ name, path, reports: [], cpuUsPerReq: [], roleUsPerReq: [] });
  try {
    add('direct', await startPath(ctx, 'direct', backendPort));
    if (o.haproxy) add('haproxy', await startPath(ctx, 'haproxy-mesh', backendPort));
    for (const v of o.variants) {
      const bin = join(v.root, 'bin', 'weft.js');
      const m = await startMesh(ctx, { cp, bin, nodeArgs: v.nodeArgs }, backendPort, {
        protocol: 'http',
        servicePort: 80,
      });
      if (m.transport !== 'mTLS') throw new Error(`${v.name}: the hop is ${m.transport}, not mTLS`);
      add(v.name, m);
    }
    for (const p of o.prewarm > 0 ? paths.filter((x) => o.prewarmOnly?.includes(x.name) ?? true) : []) {
      ctx.log(`pre-warming ${p.name} for ${o.prewarm} s`);
      const r = await runRate(ctx, {
        port: p.path.port,
        host: p.path.host,
        path: '/',
        rate: o.rate,
        warmupS: 0.1,
        durationS: o.prewarm,
        connections: 50,
      });
      console.log(
        `pre-warm ${p.name}: p99 ${ms(r.latencyUs.p99)} ms, max ${ms(r.latencyUs.max)} ms (not in the rounds)`,
      );
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = paths.map((_, i) => paths[(i + round) % paths.length]);
      for (const p of order) {
        const perRole = p.path.proxies.map((x) => processTree(x.child.pid));
        const pids = perRole.flat();
        const cpu0 = cpuSeconds(pids);
        const role0 = perRole.map((r) => cpuSeconds(r));
        const report = await runRate(ctx, {
          port: p.path.port,
          host: p.path.host,
          path: '/',
          rate: o.rate,
          warmupS: o.warmup,
          durationS: o.seconds,
          connections: 50,
        });
        // CPU over warm-up and measured window alike, per request sent.
        const sent = (o.warmup + o.seconds) * o.rate;
        p.cpuUsPerReq.push(((cpuSeconds(pids) - cpu0) * 1e6) / sent);
        p.roleUsPerReq.push(perRole.map((r, i) => ((cpuSeconds(r) - role0[i]) * 1e6) / sent));
        p.reports.push(report);
      }
      const d = paths[0].reports[round];
      console.log(
        `round ${round + 1} (load ${loadavg()[0].toFixed(2)}), added over direct (direct p99 ${ms(d.latencyUs.p99)} ms):`,
      );
      for (const p of paths.slice(1))
        console.log(
          `  ${line(p.name, p.reports[round], d, p.path.proxies.length ? p.cpuUsPerReq[round] : undefined, roleCpu(p, [round]))}`,
        );
    }
    const merged = paths.map((p) => mergeReports(p.reports));
    console.log(
      `merged, ${o.rounds} rounds of ${o.seconds} s (direct p99 ${ms(merged[0].latencyUs.p99)} ms):`,
    );
    paths.slice(1).forEach((p, i) => {
      const cpu = p.cpuUsPerReq.reduce((a, b) => a + b, 0) / p.cpuUsPerReq.length;
      console.log(
        `  ${line(
          p.name,
          merged[i + 1],
          merged[0],
          cpu,
          roleCpu(
            p,
            p.reports.map((_, r) => r),
          ),
        )}`,
      );
    });
    for (const p of paths.filter((x) => x.name !== 'direct'))
      for (const x of p.path.proxies) {
        // Since start (pre-warm included): V8Worker is mostly TurboFan, so re-optimization shows there.
        console.log(`${p.name} ${x.role} threads: ${threadCpu(x.child.pid)}`);
        // With --trace-gc among a variant's flags: its full collections (the idle release's included).
        const full = x.child
          .output()
          .stdout.split('\n')
          .filter((l) => /Mark-Compact|Mark-Sweep/.test(l));
        if (full.length > 0)
          console.log(`${p.name} ${x.role}: ${full.length} full GCs\n  ${full.join('\n  ')}`);
      }
  } finally {
    for (const p of paths) await p.path.stop();
    await cp.child.stop();
    await backend.stop();
  }
}

main(parseArgs(process.argv.slice(2))).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tail-ab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
