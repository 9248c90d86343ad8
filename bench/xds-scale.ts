// Benchmark (not a test): the control plane at scale, file store vs etcd (1 and 2 replicas): memory, CPU, and how fast changes reach every client.
//
// Defaults are the scale targets: 1,000 services (ServiceEntry + workloadSelector), 10,000
// endpoints (WorkloadEntries), 2,000 connected xDS clients. The clients are grpc-js ADS streams
// with a weft sidecar's node metadata on the read-only plaintext xDS port (`--xds-plaintext`),
// subscribing like Envoy: wildcard CDS and LDS, RDS `outbound`, EDS for every EDS cluster, ACKing
// every response. With several replicas, clients are spread evenly. An endpoint change = a real
// `weft proxy` (registered over mTLS, one per change, started beforehand on the replicas in
// turn) is killed (`--registry-grace 1ms`); measured from the kill until every client got the
// EDS update. A resource change = an apply of a VirtualService on the first replica; measured
// until every client ACKed the new routes.
//
//   node bench/xds-scale.ts [--services 1000] [--entries 8] [--clients 2000] [--changes 10] [--modes file,etcd,etcd2] [--no-write]
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
import { type EtcdCluster, startEtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { startWeft, type WeftProcess } from '../test/helpers/process.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    entries: { type: 'string', default: '10' },
    clients: { type: 'string', default: '2000' },
    changes: { type: 'string', default: '10' },
    modes: { type: 'string', default: 'file,etcd,etcd2' },
    /** Longest wait for one change to reach every client (seconds). */
    bound: { type: 'string', default: '60' },
    'no-write': { type: 'boolean', default: false },
  },
});
const SERVICES = Number(args.services);
const ENTRIES = Number(args.entries);
const CLIENTS = Number(args.clients);
const CHANGES = Number(args.changes);
const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;
const READY = /weft control-plane ready: api (http:\/\/[\d.:]+) xds [\d.:]+ xds-plaintext ([\d.:]+)/;
const PROXY_READY = /weft proxy ready/;
const AdsClient = grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService');
type AdsCall = grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CDS version → EDS names (decoded once for all clients). */
const edsNames = new Map<string, string[]>();

/** One simulated sidecar: registers, subscribes like Envoy, ACKs every response, records what it got. */
class Client {
  /** Latest response per type: version, arrival time, payload bytes. */
  readonly last = new Map<string, { version: string; at: number; bytes: number }>();
  readonly #client: grpc.Client;
  readonly #call: AdsCall;
  #eds: string[] = [];
  #edsNonce = '';
  #edsVersion = '';

  constructor(address: string, index: number) {
    this.#client = new AdsClient(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    this.#call = (this.#client as unknown as Record<string, () => AdsCall>).StreamAggregatedResources.call(
      this.#client,
    );
    this.#call.on('data', (r: DiscoveryResponseMessage) => this.#onResponse(r));
    this.#call.on('error', () => {});
    const service = `svc-${index % SERVICES}`;
    const ip = `10.${128 + ((index >> 16) & 127)}.${(index >> 8) & 255}.${index & 255}`;
    this.#call.write({
      node: {
        id: `sidecar~${ip}~bench-${index}.default~default.svc.cluster.local`,
        cluster: service,
        metadata: jsonToStruct({
          WEFT_SIDECAR: 'true',
          NAMESPACE: 'default',
          LABELS: { app: service, version: 'v1' },
          INSTANCE_IPS: [ip],
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
      names = this.#eds;
    } else if (type === TYPE_URL.route) names = ['outbound'];
    this.#call.write({ type_url: type, version_info: version, response_nonce: nonce, resource_names: names });
    const bytes = r.resources.reduce((sum, any) => sum + any.value.length, 0);
    const first = !this.last.has(type);
    this.last.set(type, { version, at: performance.now(), bytes });
    if (type === TYPE_URL.listener && first)
      this.#call.write({ type_url: TYPE_URL.route, resource_names: ['outbound'] });
    if (type === TYPE_URL.cluster) {
      let eds = edsNames.get(version);
      if (!eds) {
        eds = r.resources
          .map((any) => decodeResource(any.type_url, any.value))
          .filter((c) => c.type === 'EDS')
          .map((c) => String(c.name))
          .sort();
        edsNames.set(version, eds);
      }
      if (eds.join() !== this.#eds.join()) {
        this.#eds = eds;
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

interface Replica {
  proc: WeftProcess;
  api: string;
  xds: string;
}

/** RSS (MiB) and CPU seconds (user + system) of a process, from /proc. */
async function usage(pid: number): Promise<{ rss: number; cpu: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  const ticks = 100; // USER_HZ on Linux
  return {
    rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024,
    cpu: (Number(stat[11]) + Number(stat[12])) / ticks,
  };
}

async function apply(api: string, text: string): Promise<void> {
  const res = await fetch(`${api}/api/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sources: [{ file: 'bench.yaml', text }] }),
  });
  if (res.status !== 200)
    throw new Error(`apply answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
}

/** The services and their WorkloadEntries, as one apply (etcd is started with limits that take it). */
function resources(): string {
  const docs: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${s}}
spec:
  hosts: [svc-${s}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: svc-${s}}}
`);
    for (let e = 0; e < ENTRIES; e++)
      docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${s}-${e}}
spec:
  address: 10.${s >> 8}.${s & 255}.${e + 1}
  labels: {app: svc-${s}}
  ports: {http: 8080}
`);
  }
  return docs.join('---\n');
}

/** etcd limits for one apply of every resource: 2 operations per resource, ~2 KiB each. */
const ETCD_LIMITS = ['--max-txn-ops=100000', '--max-request-bytes=67108864'];

function virtualService(change: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-0}
spec:
  hosts: [svc-0.default.svc.cluster.local]
  http:
  - timeout: ${change + 1}s
    route: [{destination: {host: svc-0.default.svc.cluster.local}}]
`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Waits until every client has all four types and nothing arrived for `quietMs`. */
async function settle(clients: Client[], quietMs = 2000, timeoutMs = 900_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let complete = true;
    let latest = 0;
    for (const c of clients) {
      if (c.last.size < 4) complete = false;
      for (const l of c.last.values()) latest = Math.max(latest, l.at);
    }
    if (complete && performance.now() - latest > quietMs) return;
    if (Date.now() > deadline) throw new Error('clients did not settle');
    if (process.env.BENCH_DEBUG) {
      const counts = new Map<string, number>();
      for (const c of clients) for (const k of c.last.keys()) counts.set(k, (counts.get(k) ?? 0) + 1);
      process.stderr.write(`settle: ${JSON.stringify(Object.fromEntries(counts))}\n`);
    }
    await sleep(200);
  }
}

/** Waits until every client's `type` moved past `before`; returns the last arrival after `t0` (ms). */
async function reachedAll(
  clients: Client[],
  type: string,
  before: (string | undefined)[],
  t0: number,
): Promise<number> {
  const deadline = Date.now() + Number(args.bound) * 1000;
  while (!clients.every((c, i) => c.last.get(type)?.version !== before[i])) {
    if (Date.now() > deadline)
      throw new Error(`a ${type} change did not reach every client within ${args.bound} s`);
    await sleep(2);
  }
  return Math.max(...clients.map((c) => c.last.get(type)!.at - t0));
}

interface Row {
  mode: string;
  connectS: number;
  rss: number[];
  syncCpuS: number;
  endpoint: number[];
  edsBytes: number;
  resource: number[];
  changeCpuS: number;
}

async function startReplicas(
  mode: string,
  dir: string,
): Promise<{ replicas: Replica[]; etcd?: EtcdCluster }> {
  const etcd = mode === 'file' ? undefined : await startEtcdCluster(3, { extraArgs: ETCD_LIMITS });
  if (etcd) running.clusters.add(etcd);
  const count = mode === 'etcd2' ? 2 : 1;
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const proc = await startWeft(
      [
        'control-plane',
        '--data-dir',
        join(dir, `cp-${i}`),
        '--api',
        '127.0.0.1:0',
        '--xds',
        '127.0.0.1:0',
        '--xds-plaintext',
        '127.0.0.1:0',
        '--registry-grace',
        '1ms',
        ...(etcd ? ['--store', etcd.storeUrl] : []),
      ],
      { ready: READY, timeoutMs: 60_000 },
    );
    running.procs.add(proc);
    replicas.push({ proc, api: proc.ready[1], xds: proc.ready[2] });
  }
  return { replicas, etcd };
}

async function runMode(mode: string): Promise<Row> {
  const dir = await mkdtemp(join(os.tmpdir(), 'weft-bench-scale-'));
  const { replicas, etcd } = await startReplicas(mode, dir);
  const clients: Client[] = [];
  const proxies: WeftProcess[] = [];
  try {
    const note = (what: string) => process.stderr.write(`${mode}: ${what}\n`);
    await apply(replicas[0].api, resources());
    note('resources applied');
    for (let i = 0; i < CHANGES; i++)
      proxies.push(
        await startWeft(
          [
            'proxy',
            '--server',
            replicas[i % replicas.length].api,
            '--service',
            `svc-${i}`,
            '--app-port',
            '1',
            '--inbound-port',
            '0',
            '--outbound-port',
            '0',
            '--admin-port',
            '0',
          ],
          { ready: PROXY_READY, timeoutMs: 60_000 },
        ),
      );
    for (const p of proxies) running.procs.add(p);
    const started = performance.now();
    const cpu0 = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    while (clients.length < CLIENTS) {
      clients.push(new Client(replicas[clients.length % replicas.length].xds, clients.length));
      if (clients.length % 50 === 0) await sleep(20);
    }
    note(`${CLIENTS} clients connecting`);
    await settle(clients);
    const connectS = (performance.now() - started) / 1000;
    const synced = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    const endpoint: number[] = [];
    let edsBytes = 0;
    for (let i = 0; i < CHANGES; i++) {
      const before = clients.map((c) => c.last.get(TYPE_URL.endpoint)?.version);
      const t0 = performance.now();
      proxies[i].child.kill('SIGKILL');
      endpoint.push(await reachedAll(clients, TYPE_URL.endpoint, before, t0));
      edsBytes += clients.reduce((s, c) => s + c.last.get(TYPE_URL.endpoint)!.bytes, 0) / clients.length;
      await sleep(500);
    }
    note(`endpoint changes: ${endpoint.map((v) => v.toFixed(0)).join(' ')} ms`);
    const resource: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const before = clients.map((c) => c.last.get(TYPE_URL.route)?.version);
      const t0 = performance.now();
      await apply(replicas[0].api, virtualService(i));
      resource.push(await reachedAll(clients, TYPE_URL.route, before, t0));
      await sleep(500);
    }
    const after = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    const row: Row = {
      mode,
      connectS,
      rss: synced.map((u) => u.rss),
      syncCpuS: synced.reduce((s, u, i) => s + u.cpu - cpu0[i].cpu, 0),
      endpoint: endpoint.sort((a, b) => a - b),
      edsBytes: edsBytes / CHANGES,
      resource: resource.sort((a, b) => a - b),
      changeCpuS: after.reduce((s, u, i) => s + u.cpu - synced[i].cpu, 0) / (2 * CHANGES),
    };
    process.stdout.write(`${mode}: ${JSON.stringify(row)}\n`);
    return row;
  } finally {
    for (const c of clients) c.close();
    for (const p of proxies) await p.stop('SIGKILL');
    for (const r of replicas) await r.proc.stop('SIGTERM');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const LABEL: Record<string, string> = {
  file: 'file store, 1 control plane',
  etcd: 'etcd (3 members), 1 replica',
  etcd2: 'etcd (3 members), 2 replicas',
};

function render(rows: Row[]): string {
  const cpu = os.cpus();
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, etcd 3.4 (Debian, \`--max-txn-ops\` and \`--max-request-bytes\` raised so that the resources go in one apply); control plane(s), etcd and the clients share the machine. ` +
      `${SERVICES.toLocaleString('en')} services (ServiceEntry), ${(SERVICES * ENTRIES).toLocaleString('en')} endpoints (WorkloadEntries), ${CLIENTS.toLocaleString('en')} xDS clients: ` +
      "grpc-js ADS streams with a weft sidecar's node metadata on the read-only plaintext xDS port, subscribing to every cluster, endpoint and route as a weft sidecar without a `Sidecar` scope does. " +
      `Endpoint change: a real \`weft proxy\` (registered over mTLS) is killed, \`--registry-grace 1ms\`; time until every client has the new endpoints (EDS). Resource change: an apply of a VirtualService; time until every client ACKed the routes. ${CHANGES} of each per row; p99 is the slowest.`,
    '',
    '| store | connect + sync | RSS per replica | CPU for the initial sync | endpoint change p50 / p99 | EDS bytes per client per change | resource change p50 / p99 | CPU per change |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${LABEL[r.mode] ?? r.mode} | ${r.connectS.toFixed(1)} s | ${r.rss.map((v) => `${v.toFixed(0)} MiB`).join(', ')} | ${r.syncCpuS.toFixed(1)} s | ` +
        `${ms(percentile(r.endpoint, 50))} / ${ms(percentile(r.endpoint, 99))} | ${(r.edsBytes / 1024).toFixed(1)} KiB | ` +
        `${ms(percentile(r.resource, 50))} / ${ms(percentile(r.resource, 99))} | ${r.changeCpuS.toFixed(2)} s |`,
    ),
    '',
    'Reproduce: `node bench/xds-scale.ts` (`--services 1000 --entries 10 --clients 2000 --changes 10 --modes file,etcd,etcd2`).',
  ].join('\n');
}

const START = '<!-- xds-scale:start -->';
const END = '<!-- xds-scale:end -->';

async function writeSection(table: string): Promise<void> {
  const section = `${START}\n## Control plane at scale: file store and etcd\n\n${table}\n${END}`;
  let doc = await readFile(DOC, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  doc =
    start >= 0 && end > start
      ? `${doc.slice(0, start)}${section}${doc.slice(end + END.length)}`
      : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(DOC, doc);
  process.stdout.write(`wrote ${DOC}\n`);
}

/** Everything this run started, stopped on Ctrl-C or SIGTERM too (the `finally` blocks do it otherwise). */
const running = { procs: new Set<WeftProcess>(), clusters: new Set<EtcdCluster>() };
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    for (const p of running.procs) p.child.kill('SIGKILL');
    void Promise.all([...running.clusters].map((c) => c.stop())).finally(() => process.exit(130));
  });

const rows: Row[] = [];
for (const mode of args.modes.split(',')) rows.push(await runMode(mode));
const table = render(rows);
process.stdout.write(`\n${table}\n`);
if (!args['no-write']) await writeSection(table);
