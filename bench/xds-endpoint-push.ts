// Benchmark (not a test): how fast an endpoint change (a replica joining or leaving) reaches 1,000 ADS clients of 1,000 services, A/B across checkouts.
//
// For each checkout (`--roots A,B`, default this one) it runs `weft control-plane` as its own
// process, connects the simulated sidecars of bench/lib/ads-sim.ts (one per service, each
// watching every cluster, endpoint and route), then `--changes` times: starts one more replica of
// an existing service and measures the time until every other client has ACKed new endpoints,
// then stops it and measures the same for its removal (`--registry-grace 1ms`). Roots are
// measured in turns (A, B, A, B with `--runs 2`). Where the control plane has
// `GET /api/v1/debug/push`, it also records what each join and leave cost: compiles and
// generator calls per type. Prints a table and writes the "Endpoint change" section of
// docs/benchmarks.md.
//
//   node bench/xds-endpoint-push.ts [--roots .,/tmp/weft-before] [--clients 1000] [--services 1000] [--changes 10] [--runs 1]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TYPE_URL } from '../src/xds/type-urls.ts';
import {
  type ControlPlaneProcess,
  percentile,
  rssMiB,
  SimulatedSidecar,
  servesMtls,
  settle,
  sidecarCredentials,
  sleep,
  startControlPlane,
} from './lib/ads-sim.ts';
import { cpuSeconds } from './lib/procfs.ts';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string', default: new URL('../', import.meta.url).pathname },
    clients: { type: 'string', default: '1000' },
    services: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '10' },
    runs: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    /** Write V8 CPU profiles of the control planes into this directory. */
    profile: { type: 'string' },
  },
});
const ROOTS = args.roots.split(',').map((r) => resolve(r));
const CLIENTS = Number(args.clients);
const SERVICES = Number(args.services);
const CHANGES = Number(args.changes);
const RUNS = Number(args.runs);
/** Clients connected at once while setting up. */
const WAVE = 100;
const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;
const NAMES: Record<string, string> = {
  [TYPE_URL.cluster]: 'CDS',
  [TYPE_URL.listener]: 'LDS',
  [TYPE_URL.route]: 'RDS',
  [TYPE_URL.endpoint]: 'EDS',
};

/** `GET /api/v1/debug/push`, or undefined where the checkout has no such route. */
interface PushStats {
  compiles: number;
  generated: Record<string, number>;
}

async function pushStats(cp: ControlPlaneProcess): Promise<PushStats | undefined> {
  const response = await fetch(`${cp.api}/api/v1/debug/push`);
  if (response.status !== 200) return undefined;
  return (await response.json()) as PushStats;
}

/** What one change cost: compiles and generator calls per type (`-` when not counted). */
function costOf(before: PushStats | undefined, after: PushStats | undefined): string {
  if (!before || !after) return 'not counted';
  const generated = Object.entries(NAMES).map(
    ([url, name]) => `${name} ${(after.generated[url] ?? 0) - (before.generated[url] ?? 0)}`,
  );
  return `compiles ${after.compiles - before.compiles}, generated ${generated.join(', ')}`;
}

/** Waits until every client ACKed an EDS version other than the one it had; the time of the last ACK after `t0`. */
async function edsReached(clients: SimulatedSidecar[], t0: number): Promise<number> {
  const before = clients.map((c) => c.acked.get(TYPE_URL.endpoint)?.version);
  const deadline = Date.now() + 120_000;
  while (!clients.every((c, i) => c.acked.get(TYPE_URL.endpoint)?.version !== before[i])) {
    if (Date.now() > deadline) throw new Error('an endpoint change did not reach every client within 120 s');
    await sleep(2);
  }
  return Math.max(...clients.map((c) => c.acked.get(TYPE_URL.endpoint)!.at)) - t0;
}

interface Sample {
  join: number;
  leave: number;
  /** Control-plane CPU (user + system) from the change until every client ACKed, milliseconds. */
  joinCpu: number;
  leaveCpu: number;
  joinCost: string;
  leaveCost: string;
}

interface RootResult {
  samples: Sample[];
  connectSeconds: number;
  /** Control-plane RSS once every client is connected, MiB. */
  rss: number;
}

async function measureRoot(root: string): Promise<RootResult> {
  const dir = await mkdtemp(join(os.tmpdir(), 'weft-bench-eds-'));
  const cp = await startControlPlane({
    root,
    dataDir: join(dir, 'data'),
    logLevel: args['log-level'],
    profile: args.profile,
    extraArgs: ['--registry-grace', '1ms'],
  });
  const clients: SimulatedSidecar[] = [];
  try {
    const credentials = await sidecarCredentials(root, join(dir, 'data'));
    const started = performance.now();
    // In waves, each settled before the next: every client of a new service is a full push round,
    // so connecting N sidecars of N services at once queues N² of pushes to clients this process
    // (sharing the CPU) reads too slowly.
    while (clients.length < CLIENTS) {
      const wave = Math.min(CLIENTS, clients.length + WAVE);
      while (clients.length < wave)
        clients.push(
          new SimulatedSidecar(cp.xds, clients.length, `svc-${clients.length % SERVICES}`, credentials),
        );
      await settle(clients, 500, 600_000);
    }
    const connectSeconds = (performance.now() - started) / 1000;
    const rss = await rssMiB(cp.pid);
    process.stdout.write(
      `${root}: connected in ${connectSeconds.toFixed(1)} s, control plane RSS ${rss.toFixed(0)} MiB\n`,
    );
    const samples: Sample[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const stats0 = await pushStats(cp);
      const cpu0 = cpuSeconds([cp.pid]);
      const t0 = performance.now();
      const replica = new SimulatedSidecar(cp.xds, CLIENTS + i, `svc-${i % SERVICES}`, credentials);
      const join = await edsReached(clients, t0);
      const joinCpu = (cpuSeconds([cp.pid]) - cpu0) * 1000;
      await sleep(300);
      const stats1 = await pushStats(cp);
      const cpu1 = cpuSeconds([cp.pid]);
      const t1 = performance.now();
      replica.close();
      const leave = await edsReached(clients, t1);
      const leaveCpu = (cpuSeconds([cp.pid]) - cpu1) * 1000;
      await sleep(300);
      const leaveCost = costOf(stats1, await pushStats(cp));
      samples.push({ join, leave, joinCpu, leaveCpu, joinCost: costOf(stats0, stats1), leaveCost });
      process.stdout.write(
        `${root}: join ${join.toFixed(0)} ms (CPU ${joinCpu.toFixed(0)} ms), leave ${leave.toFixed(0)} ms (CPU ${leaveCpu.toFixed(0)} ms)\n`,
      );
    }
    return { samples, connectSeconds, rss };
  } finally {
    for (const c of clients) c.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `${percentile(sorted, 50).toFixed(0)} ms | ${sorted.at(-1)!.toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const results = new Map<string, Totals>(ROOTS.map((r) => [r, { samples: [], connect: [], rss: [] }]));
  for (let run = 0; run < RUNS; run++)
    for (const root of ROOTS) {
      const { samples, connectSeconds, rss } = await measureRoot(root);
      const totals = results.get(root)!;
      totals.samples.push(...samples);
      totals.connect.push(connectSeconds);
      totals.rss.push(rss);
    }
  const table = render(results);
  process.stdout.write(`\n${table}\n`);
  if (!args['no-write']) await writeSection(table);
}

function label(root: string, i: number): string {
  const transport = servesMtls(root) ? 'xDS over mTLS' : 'xDS in plaintext';
  return `${ROOTS.length > 1 ? `${String.fromCharCode(65 + i)}: ` : ''}${root} (${transport})`;
}

/** Everything measured of one root over all runs. */
interface Totals {
  samples: Sample[];
  connect: number[];
  rss: number[];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function render(results: Map<string, Totals>): string {
  const cpu = os.cpus();
  const rows = [...results].map(([root, r], i) => {
    const costs = new Set(r.samples.map((s) => `join: ${s.joinCost}; leave: ${s.leaveCost}`));
    return (
      `| ${label(root, i)} | ${summary(r.samples.map((s) => s.joinCpu))} | ${summary(r.samples.map((s) => s.join))} | ` +
      `${summary(r.samples.map((s) => s.leaveCpu))} | ${summary(r.samples.map((s) => s.leave))} | ` +
      `${mean(r.connect).toFixed(1)} s | ${mean(r.rss).toFixed(0)} MiB | ${[...costs].join('<br>')} |`
    );
  });
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim()}, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}; control plane and simulated clients ` +
      `share the machine. ${SERVICES.toLocaleString('en')} services, ${CLIENTS.toLocaleString('en')} clients (a sidecar ` +
      'each, watching every cluster, endpoint and route). A change = one more replica of an existing service ' +
      'connects (join) or disconnects (leave, `--registry-grace 1ms`). CPU: what the control-plane process used ' +
      '(user + system, from /proc) from then until the last other client ACKed new endpoints, the figure the ' +
      `load of other processes blurs least; time: the wall clock for the same. ${CHANGES * RUNS} joins and ` +
      'leaves per row, roots in turns.',
    '',
    '| control plane | join: CPU p50 | max | time p50 | max | leave: CPU p50 | max | time p50 | max | connect + settle | control-plane RSS | cost of each join and leave (`GET /api/v1/debug/push`) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Reproduce: `node bench/xds-endpoint-push.ts --roots .,DIR` with DIR a `git worktree` of the commit to compare.',
  ].join('\n');
}

const START = '<!-- xds-endpoint-push:start -->';
const END = '<!-- xds-endpoint-push:end -->';

/** Replaces (or appends) this benchmark's section of docs/benchmarks.md. */
async function writeSection(table: string): Promise<void> {
  const section = `${START}\n## Endpoint change (a replica joins or leaves)\n\n${table}\n${END}`;
  const doc = await readFile(DOC, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  const anchor = doc.indexOf('<!-- xds-convergence:end -->');
  const next =
    start >= 0 && end > start
      ? `${doc.slice(0, start)}${section}${doc.slice(end + END.length)}`
      : anchor >= 0
        ? `${doc.slice(0, anchor + 28)}\n\n${section}${doc.slice(anchor + 28)}`
        : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(DOC, next);
  process.stdout.write(`wrote ${DOC}\n`);
}

await main();
