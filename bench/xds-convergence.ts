// Benchmark (not a test): how fast one change reaches 100 and 1,000 ADS clients, and control-plane memory per client.
//
// Runs `weft control-plane` as its own process, connects simulated weft sidecars (grpc-js ADS
// streams, one TCP connection each, wildcard LDS/CDS, RDS `outbound`, EDS for every cluster,
// ACKing every response), then applies a VirtualService change ten times and measures, per
// change, the time from the apply request to the last client's ACK of the new routes.
// Prints a table and writes the "Control plane convergence" section of docs/benchmarks.md.
//
//   node bench/xds-convergence.ts [--clients 100,1000] [--changes 10] [--services 100]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TYPE_URL } from '../src/xds/type-urls.ts';
import {
  applyYaml,
  type ControlPlaneProcess,
  percentile,
  rssMiB,
  SimulatedSidecar,
  settle,
  sidecarCredentials,
  sleep,
  startControlPlane,
  THIS_ROOT,
} from './lib/ads-sim.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '100,1000' },
    changes: { type: 'string', default: '10' },
    services: { type: 'string', default: '100' },
    'no-write': { type: 'boolean', default: false },
    /** Log level of the control plane (its logs go to this process's stderr). */
    'log-level': { type: 'string', default: 'warn' },
    /** Write a V8 CPU profile of the control plane into this directory. */
    profile: { type: 'string' },
  },
});
const CLIENT_STEPS = args.clients.split(',').map(Number);
const CHANGES = Number(args.changes);
const SERVICES = Number(args.services);
const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;

function virtualService(change: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-0
spec:
  hosts: [svc-0.default.svc.cluster.local]
  http:
  - name: change-${change}
    timeout: ${change + 1}s
    route:
    - destination: {host: svc-0.default.svc.cluster.local}
`;
}

interface Row {
  clients: number;
  p50: number;
  p99: number;
  max: number;
  connectSeconds: number;
  rss: number;
  perClientKiB: number;
}

async function measure(
  cp: ControlPlaneProcess,
  clients: SimulatedSidecar[],
  startChange: number,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const before = clients.map((c) => c.acked.get(TYPE_URL.route)?.version);
    const t0 = performance.now();
    await applyYaml(cp.api, virtualService(startChange + i));
    const applied = performance.now() - t0;
    const deadline = Date.now() + 60_000;
    while (!clients.every((c, j) => c.acked.get(TYPE_URL.route)?.version !== before[j])) {
      if (Date.now() > deadline) throw new Error('a change did not reach every client within 60 s');
      await sleep(2);
    }
    const acks = clients.map((c) => c.acked.get(TYPE_URL.route)!.at - t0).sort((a, b) => a - b);
    times.push(acks.at(-1)!);
    if (args['log-level'] === 'debug') {
      process.stderr.write(
        `change ${startChange + i}: apply ${applied.toFixed(0)} ms, first ACK ${acks[0].toFixed(0)} ms, last ${acks.at(-1)!.toFixed(0)} ms\n`,
      );
    }
    await sleep(300);
  }
  return times;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'weft-bench-xds-'));
  const cp = await startControlPlane({
    dataDir: join(dir, 'data'),
    logLevel: args['log-level'],
    profile: args.profile,
  });
  const clients: SimulatedSidecar[] = [];
  const rows: Row[] = [];
  try {
    const credentials = await sidecarCredentials(THIS_ROOT, join(dir, 'data'));
    await sleep(500);
    const baseRss = await rssMiB(cp.pid);
    let previousRss = baseRss;
    let change = 0;
    for (const target of CLIENT_STEPS) {
      const started = performance.now();
      while (clients.length < target) {
        clients.push(
          new SimulatedSidecar(cp.xds, clients.length, `svc-${clients.length % SERVICES}`, credentials),
        );
        if (clients.length % 50 === 0) await sleep(20);
      }
      await settle(clients);
      const connectSeconds = (performance.now() - started) / 1000;
      const rss = await rssMiB(cp.pid);
      const added = target - (rows.at(-1)?.clients ?? 0);
      const times = (await measure(cp, clients, change)).sort((a, b) => a - b);
      change += CHANGES;
      rows.push({
        clients: target,
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        max: times.at(-1)!,
        connectSeconds,
        rss,
        perClientKiB: ((rss - previousRss) * 1024) / added,
      });
      previousRss = rss;
      process.stdout.write(
        `${target} clients: p50 ${percentile(times, 50).toFixed(0)} ms, each change: ${times.map((t) => t.toFixed(0)).join(' ')} ms\n`,
      );
    }
    const table = render(rows, baseRss);
    process.stdout.write(`\n${table}\n`);
    if (!args['no-write']) await writeSection(table);
  } finally {
    for (const c of clients) c.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function render(rows: Row[], baseRss: number): string {
  const cpu = os.cpus();
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim()}, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node.js ${process.version}; ` +
      `control plane and simulated clients share the machine. ${SERVICES} services, each client a sidecar of one ` +
      `(so ${CLIENT_STEPS.at(-1)!.toLocaleString('en')} clients = ${Math.ceil(CLIENT_STEPS.at(-1)! / SERVICES)} endpoints per service); every client watches all clusters, endpoints and routes. ` +
      `A change = \`POST /api/v1/apply\` of a VirtualService (new route timeout) → ` +
      `snapshot → ${'`--push-debounce 100ms`'} → RDS \`outbound\` pushed to every client; measured from the apply ` +
      `request until the last client's ACK, ${CHANGES} changes per row (so p99 is the slowest of them).`,
    '',
    '| clients | p50 | p99 | max | connect + settle | control-plane RSS | RSS per added client |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.clients.toLocaleString('en')} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.max.toFixed(0)} ms | ` +
        `${r.connectSeconds.toFixed(1)} s | ${r.rss.toFixed(0)} MiB | ${r.perClientKiB.toFixed(0)} KiB |`,
    ),
    '',
    `Control-plane RSS with no client: ${baseRss.toFixed(0)} MiB. Reproduce: \`node bench/xds-convergence.ts\` ` +
      '(`--clients 100,1000 --changes 10 --services 100`; `--profile DIR` writes a CPU profile of the control plane).',
  ];
  return lines.join('\n');
}

const START = '<!-- xds-convergence:start -->';
const END = '<!-- xds-convergence:end -->';

/** Replaces (or appends) this benchmark's section of docs/benchmarks.md. */
async function writeSection(table: string): Promise<void> {
  const section = `${START}\n## Control plane convergence\n\n${table}\n${END}`;
  let doc = '';
  try {
    doc = await readFile(DOC, 'utf8');
  } catch {
    doc = '# Benchmarks\n\nEach section is written by the benchmark named in it (`bench/`).\n';
  }
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  doc =
    start >= 0 && end > start
      ? `${doc.slice(0, start)}${section}${doc.slice(end + END.length)}`
      : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(DOC, doc);
  process.stdout.write(`wrote ${DOC}\n`);
}

await main();
