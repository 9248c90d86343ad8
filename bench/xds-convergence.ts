// Benchmark (not a test): how fast one change reaches 100 and 1,000 ADS clients, and control-plane memory per client.
//
// Runs `weft control-plane` as its own process, connects simulated weft sidecars (grpc-js ADS
// streams, one TCP connection each, wildcard LDS/CDS, RDS `outbound`, EDS for every cluster,
// ACKing every response), then applies a VirtualService change ten times and measures, per
// change, the time from the apply request to the last client's ACK of the new routes.
// Prints a table and writes the "Control plane convergence" section of docs/benchmarks.md.
//
//   node bench/xds-convergence.ts [--clients 100,1000] [--changes 10] [--services 100]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  adsService,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from '../src/xds/discovery.ts';
import { decodeResource } from '../src/xds/protos.ts';
import { jsonToStruct } from '../src/xds/struct.ts';
import { TYPE_URL } from '../src/xds/type-urls.ts';

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
const WEFT_BIN = new URL('../bin/weft.js', import.meta.url).pathname;
const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;

const AdsClient = grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService');

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

/** CDS version → the EDS names it implies (decoded once, shared by every client). */
const edsNamesByVersion = new Map<string, string[]>();

/** One simulated sidecar: subscribes like Envoy and ACKs every response at once. */
class SimulatedSidecar {
  /** Time of the latest ACK per type, and the version it ACKed. */
  readonly acked = new Map<string, { version: string; at: number }>();
  readonly #client: grpc.Client;
  readonly #call: AdsCall;
  #edsNames: string[] = [];
  #edsNonce = '';
  #edsVersion = '';

  constructor(address: string, index: number) {
    this.#client = new AdsClient(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    const methods = this.#client as unknown as Record<string, () => AdsCall>;
    this.#call = methods.StreamAggregatedResources.call(this.#client);
    this.#call.on('data', (r: DiscoveryResponseMessage) => this.#onResponse(r));
    this.#call.on('error', () => {});
    const service = `svc-${index % SERVICES}`;
    this.#call.write({
      node: {
        id: `sidecar~${index}`,
        cluster: service,
        metadata: jsonToStruct({
          WEFT_SIDECAR: 'true',
          NAMESPACE: 'default',
          LABELS: { app: service, version: 'v1' },
          INSTANCE_IPS: [`10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`],
          WEFT_SERVICE: service,
          WEFT_SERVICE_PORT: '80',
          WEFT_APP_PORT: '8080',
        }),
      },
      type_url: TYPE_URL.cluster,
      resource_names: [],
    });
    this.#call.write({ type_url: TYPE_URL.listener, resource_names: [] });
  }

  #onResponse(r: DiscoveryResponseMessage): void {
    const type = r.type_url ?? '';
    const version = r.version_info ?? '';
    const nonce = r.nonce ?? '';
    let names: string[] = [];
    if (type === TYPE_URL.endpoint) {
      this.#edsNonce = nonce;
      this.#edsVersion = version;
      names = this.#edsNames;
    } else if (type === TYPE_URL.route) names = ['outbound'];
    this.#call.write({ type_url: type, version_info: version, response_nonce: nonce, resource_names: names });
    this.acked.set(type, { version, at: performance.now() });
    if (type === TYPE_URL.listener && !this.acked.has(TYPE_URL.route)) {
      this.#call.write({ type_url: TYPE_URL.route, resource_names: ['outbound'] });
    }
    if (type === TYPE_URL.cluster) {
      let eds = edsNamesByVersion.get(version);
      if (!eds) {
        eds = r.resources
          .map((any) => decodeResource(any.type_url, any.value))
          .filter((c) => c.type === 'EDS')
          .map((c) => String(c.name));
        edsNamesByVersion.set(version, eds);
      }
      if (eds.join() !== this.#edsNames.join()) {
        this.#edsNames = eds;
        // A subscription change rides on the latest EDS nonce (or opens the EDS watch).
        this.#call.write({
          type_url: TYPE_URL.endpoint,
          resource_names: eds,
          version_info: this.#edsVersion,
          response_nonce: this.#edsNonce,
        });
      }
    }
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

interface ControlPlaneProcess {
  pid: number;
  api: string;
  xds: string;
  stop(): Promise<void>;
}

async function startControlPlane(dataDir: string): Promise<ControlPlaneProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : []),
      WEFT_BIN,
      'control-plane',
      '--data-dir',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
    ],
    { env: { ...process.env, WEFT_LOG_LEVEL: args['log-level'] }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /api (http:\/\/[\d.:]+) xds ([\d.:]+)/.exec(out);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`control plane exited (${code}) before it was ready`)));
  });
  return {
    pid: child.pid!,
    api: ready[1],
    xds: ready[2],
    stop: async () => {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function applyYaml(api: string, text: string): Promise<void> {
  const response = await fetch(`${api}/api/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sources: [{ file: 'bench.yaml', text }] }),
  });
  if (response.status !== 200) throw new Error(`apply answered ${response.status}: ${await response.text()}`);
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until no client has received anything for `quietMs` and every one has all four types. */
async function settle(clients: SimulatedSidecar[], quietMs = 1500, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const complete = clients.every((c) => c.acked.size === 4);
    const last = Math.max(...clients.flatMap((c) => [...c.acked.values()].map((a) => a.at)));
    if (complete && performance.now() - last > quietMs) return;
    if (Date.now() > deadline) throw new Error('clients did not settle');
    await sleep(100);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
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
  const cp = await startControlPlane(join(dir, 'data'));
  const clients: SimulatedSidecar[] = [];
  const rows: Row[] = [];
  try {
    await sleep(500);
    const baseRss = await rssMiB(cp.pid);
    let previousRss = baseRss;
    let change = 0;
    for (const target of CLIENT_STEPS) {
      const started = performance.now();
      while (clients.length < target) {
        clients.push(new SimulatedSidecar(cp.xds, clients.length));
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
