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
// Modes `file`, `etcd`, `etcd2` and the same with `-scoped`: a namespace-wide Sidecar limits every
// proxy to 10 services (Istio's push scoping), to compare the bytes each push carries; and with
// `-ns`: the services spread over 100 namespaces, MeshConfig `defaultServiceExportTo: ["."]`, each
// service exported also to the namespace before its own (its callers), so each proxy gets its own
// namespace's services and the next one's; a change is timed on the clients that see it.
//
// `--stall MS` pauses the replica of each killed proxy for MS before the kill (its etcd lease
// lapses, the leader may prune its registrations) and resumes it right after: every client must
// end without the proxy's endpoint (a client that lost it to the prune counts from then).
//
//   node bench/xds-scale.ts [--services 1000] [--entries 8] [--clients 2000] [--changes 10] [--modes file,file-scoped,file-ns,etcd,etcd2] [--stall 0] [--no-write]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { WireNode } from '../src/xds/discovery.ts';
import { jsonToStruct } from '../src/xds/struct.ts';
import { TYPE_URL } from '../src/xds/type-urls.ts';
import { type EtcdCluster, startEtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { startWeft, type WeftProcess } from '../test/helpers/process.ts';
import { ScaleClient as Client } from './lib/scale-client.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    entries: { type: 'string', default: '10' },
    clients: { type: 'string', default: '2000' },
    changes: { type: 'string', default: '10' },
    modes: { type: 'string', default: 'file,file-scoped,file-ns,etcd,etcd2' },
    /** Longest wait for one change to reach every client (seconds). */
    bound: { type: 'string', default: '60' },
    /**
     * Pause (SIGSTOP) the replica serving each killed proxy this long (ms) before the kill, and
     * resume it after: a replica stalled past its etcd lease, as on an overloaded machine.
     */
    stall: { type: 'string', default: '0' },
    /** Write V8 CPU profiles of the control planes into this directory. */
    profile: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    /** Render (and write) the table from the output of earlier runs instead of running (files, comma-separated). */
    rows: { type: 'string' },
  },
});
const SERVICES = Number(args.services);
const ENTRIES = Number(args.entries);
const CLIENTS = Number(args.clients);
const CHANGES = Number(args.changes);
const STALL_MS = Number(args.stall);
const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;
const READY = /weft control-plane ready: api (http:\/\/[\d.:]+) xds [\d.:]+ xds-plaintext ([\d.:]+)/;
const PROXY_READY = /weft proxy ready/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Namespaces of the `-ns` modes. */
const NAMESPACES = 100;

/** The namespace of service `s` (`default`, or one of NAMESPACES in the `-ns` modes). */
function namespaceOf(s: number, mode: string): string {
  return mode.endsWith('-ns') ? `ns-${s % NAMESPACES}` : 'default';
}

/** Whether the client of service `c` sees service `s`: its own namespace's, and the next one's in the `-ns` modes. */
function sees(c: number, s: number, mode: string): boolean {
  if (!mode.endsWith('-ns')) return true;
  const [own, other] = [c % NAMESPACES, s % NAMESPACES];
  return own === other || (own + 1) % NAMESPACES === other;
}

/** The node of simulated sidecar `index`: a sidecar of `svc-(index mod services)` in its namespace. */
function nodeOf(index: number, mode: string): WireNode {
  const service = `svc-${index % SERVICES}`;
  const ns = namespaceOf(index % SERVICES, mode);
  const ip = `10.${128 + ((index >> 16) & 127)}.${(index >> 8) & 255}.${index & 255}`;
  return {
    id: `sidecar~${ip}~bench-${index}.${ns}~${ns}.svc.cluster.local`,
    cluster: service,
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: ns,
      LABELS: { app: service, version: 'v1' },
      INSTANCE_IPS: [ip],
      WEFT_SERVICE: service,
      WEFT_SERVICE_PORT: '80',
      WEFT_APP_PORT: '8080',
    }),
  };
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

/**
 * The services and their WorkloadEntries, as one apply (etcd is started with limits that take it);
 * in the `-ns` modes spread over namespaces, each exported to its own and its callers' (the
 * namespace before), with MeshConfig keeping everything else in its namespace.
 */
function resources(mode: string): string {
  const spread = mode.endsWith('-ns');
  const docs: string[] = [];
  if (spread)
    docs.push(`apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec: {defaultServiceExportTo: ['.']}
`);
  for (let s = 0; s < SERVICES; s++) {
    const ns = namespaceOf(s, mode);
    const callers = `ns-${(s + NAMESPACES - 1) % NAMESPACES}`;
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${s}, namespace: ${ns}}
spec:
  hosts: [svc-${s}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: svc-${s}}}
${
  spread
    ? `  exportTo: ['.', ${callers}]
`
    : ''
}`);
    for (let e = 0; e < ENTRIES; e++)
      docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${s}-${e}, namespace: ${ns}}
spec:
  address: 10.${s >> 8}.${s & 255}.${e + 1}
  labels: {app: svc-${s}}
  serviceAccount: svc-${s}
  ports: {http: 8080}
`);
  }
  return docs.join('---\n');
}

/** Services each proxy needs in the `-scoped` modes (those the changes touch are among them). */
const SCOPE = 10;

/** A namespace-wide Sidecar: every proxy of `default` gets the first SCOPE services only. */
function scope(): string {
  const hosts = Array.from({ length: SCOPE }, (_, s) => `./svc-${s}.default.svc.cluster.local`);
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  egress: [{hosts: ${JSON.stringify(hosts)}}]
`;
}

/** etcd limits for one apply of every resource: 2 operations per resource, ~2 KiB each. */
const ETCD_LIMITS = ['--max-txn-ops=100000', '--max-request-bytes=67108864'];

function virtualService(change: number, mode: string): string {
  const host = `svc-0.${namespaceOf(0, mode)}.svc.cluster.local`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-0, namespace: ${namespaceOf(0, mode)}}
spec:
  hosts: [${host}]
  http:
  - timeout: ${change + 1}s
    route: [{destination: {host: ${host}}}]
`;
}

/** CPU (user + system) this process (the clients) used since `from`, ms. */
function cpuMs(from: NodeJS.CpuUsage): string {
  const used = process.cpuUsage(from);
  return ((used.user + used.system) / 1000).toFixed(0);
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
      counts.set(
        'reconnects',
        clients.reduce((n, c) => n + c.reconnects, 0),
      );
      for (const [why, n] of Client.endReasons) counts.set(why, n);
      process.stderr.write(`settle: ${JSON.stringify(Object.fromEntries(counts))}\n`);
    }
    await sleep(200);
  }
}

/** What each replica logged of lapsed leases and pruned or restored registrations (empty: nothing). */
const HA_EVENTS: [string, RegExp][] = [
  ['leases lost', /lost the replica lease/g],
  ['registrations pruned', /removed a registration whose replica is gone/g],
  ['registrations restored', /a registration this replica serves was deleted/g],
];

function haEvents(replicas: Replica[]): string {
  const per = replicas.map((r, i) => {
    const { stdout, stderr } = r.proc.output();
    const text = stdout + stderr;
    const counts = HA_EVENTS.map(([what, re]) => [what, text.match(re)?.length ?? 0] as const);
    const seen = counts.filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
    return seen.length > 0 ? `replica ${i}: ${seen.join(', ')}` : '';
  });
  return per.filter(Boolean).join('; ');
}

/** Waits until the `type` of every client in `which` moved past `before`; returns the last arrival after `t0` (ms). */
async function reachedAll(
  clients: Client[],
  which: number[],
  type: string,
  before: (string | undefined)[],
  t0: number,
  replicas: Replica[],
): Promise<number> {
  const deadline = Date.now() + Number(args.bound) * 1000;
  while (!which.every((i) => clients[i].last.get(type)?.version !== before[i])) {
    if (Date.now() > deadline) {
      // Which clients (by replica: client i is on replica i mod replicas) and what they hold.
      const missed = which.filter((i) => clients[i].last.get(type)?.version === before[i]);
      const held = new Set(missed.map((i) => before[i]));
      throw new Error(
        `a ${type} change did not reach every client within ${args.bound} s: ${missed.length} did not, ` +
          `${missed.filter((i) => i % 2 === 0).length} of them of even index, holding ${held.size} version(s); ` +
          `reconnects among them: ${missed.reduce((n, i) => n + clients[i].reconnects, 0)}; ` +
          `replicas' HA events: ${haEvents(replicas) || 'none'}`,
      );
    }
    await sleep(2);
  }
  return Math.max(...which.map((i) => clients[i].last.get(type)!.at - t0));
}

interface Row {
  mode: string;
  connectS: number;
  /** Streams that ended during the sync (the server's keepalive gave up on a client), each a full resend. */
  reconnects: number;
  /** The machine's 1-minute load average when the row started and ended (absent in older output). */
  load?: [number, number];
  rss: number[];
  syncCpuS: number;
  endpoint: number[];
  /** Bytes of resources a client received per endpoint change, all types, mean over clients and changes. */
  endpointBytes: number;
  resource: number[];
  resourceBytes: number;
  /** CPU of every replica per endpoint change, and per resource change. */
  endpointCpuS: number;
  resourceCpuS: number;
  /** CPU of the process running the clients per change. */
  clientCpuS: number;
}

/** Mean bytes of resources the clients of `which` (default: all) received since the last call; resets every client's counters. */
function takeBytes(clients: Client[], which: number[] = clients.map((_, i) => i)): number {
  let total = 0;
  for (const i of which) for (const bytes of clients[i].received.values()) total += bytes;
  for (const c of clients) c.received.clear();
  return total / Math.max(1, which.length);
}

async function startReplicas(
  mode: string,
  dir: string,
): Promise<{ replicas: Replica[]; etcd?: EtcdCluster }> {
  const store = mode.replace(/-(scoped|ns)$/, '');
  const etcd = store === 'file' ? undefined : await startEtcdCluster(3, { extraArgs: ETCD_LIMITS });
  if (etcd) running.clusters.add(etcd);
  const count = store === 'etcd2' ? 2 : 1;
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
      {
        ready: READY,
        timeoutMs: 60_000,
        env: args.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${args.profile}` } : {},
      },
    );
    running.procs.add(proc);
    replicas.push({ proc, api: proc.ready[1], xds: proc.ready[2] });
  }
  return { replicas, etcd };
}

async function runMode(mode: string): Promise<Row> {
  const loadAtStart = os.loadavg()[0];
  const dir = await mkdtemp(join(os.tmpdir(), 'weft-bench-scale-'));
  const { replicas, etcd } = await startReplicas(mode, dir);
  const clients: Client[] = [];
  const proxies: WeftProcess[] = [];
  try {
    const note = (what: string) => process.stderr.write(`${mode}: ${what}\n`);
    await apply(replicas[0].api, resources(mode));
    if (mode.endsWith('-scoped')) await apply(replicas[0].api, scope());
    note('resources applied');
    for (let i = 0; i < CHANGES; i++)
      proxies.push(
        await startWeft(
          [
            'proxy',
            '--server',
            replicas[i % replicas.length].api,
            '--namespace',
            namespaceOf(i, mode),
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
      clients.push(new Client(replicas[clients.length % replicas.length].xds, nodeOf(clients.length, mode)));
      if (clients.length % 50 === 0) await sleep(20);
    }
    note(`${CLIENTS} clients connecting`);
    await settle(clients);
    const connectS = (performance.now() - started) / 1000;
    const syncReconnects = clients.reduce((n, c) => n + c.reconnects, 0);
    note(
      `synced in ${connectS.toFixed(1)} s; ${syncReconnects} reconnects; HA events: ${haEvents(replicas) || 'none'}`,
    );
    const synced = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    const endpoint: number[] = [];
    let endpointBytes = 0;
    const clientCpu0 = process.cpuUsage();
    takeBytes(clients);
    for (let i = 0; i < CHANGES; i++) {
      // Taken before a stall: the leader may drop the stalled replica's endpoints meanwhile and
      // they come back when it resumes, so only the state with the proxy counts as not reached.
      const before = clients.map((c) => c.last.get(TYPE_URL.endpoint)?.version);
      const stalled = STALL_MS > 0 ? replicas[i % replicas.length].proc.child : undefined;
      if (stalled) {
        stalled.kill('SIGSTOP');
        await sleep(STALL_MS);
      }
      const t0 = performance.now();
      const own0 = process.cpuUsage();
      proxies[i].child.kill('SIGKILL');
      stalled?.kill('SIGCONT');
      const watching = clients.flatMap((_, c) => (sees(c % SERVICES, i, mode) ? [c] : []));
      endpoint.push(await reachedAll(clients, watching, TYPE_URL.endpoint, before, t0, replicas));
      note(
        `endpoint change ${i}: ${endpoint.at(-1)!.toFixed(0)} ms, clients' CPU ${cpuMs(own0)} ms` +
          (STALL_MS > 0 ? `; HA events so far: ${haEvents(replicas) || 'none'}` : ''),
      );
      await sleep(500);
      endpointBytes += takeBytes(clients, watching);
    }
    note(`endpoint changes: ${endpoint.map((v) => v.toFixed(0)).join(' ')} ms`);
    const endpointDone = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    const resource: number[] = [];
    let resourceBytes = 0;
    for (let i = 0; i < CHANGES; i++) {
      const before = clients.map((c) => c.last.get(TYPE_URL.route)?.version);
      const t0 = performance.now();
      const own0 = process.cpuUsage();
      await apply(replicas[0].api, virtualService(i, mode));
      const watching = clients.flatMap((_, c) => (sees(c % SERVICES, 0, mode) ? [c] : []));
      resource.push(await reachedAll(clients, watching, TYPE_URL.route, before, t0, replicas));
      note(`resource change ${i}: ${resource.at(-1)!.toFixed(0)} ms, clients' CPU ${cpuMs(own0)} ms`);
      await sleep(500);
      resourceBytes += takeBytes(clients, watching);
    }
    const clientCpu = process.cpuUsage(clientCpu0);
    const after = await Promise.all(replicas.map((r) => usage(r.proc.child.pid!)));
    const row: Row = {
      mode,
      connectS,
      reconnects: syncReconnects,
      load: [loadAtStart, os.loadavg()[0]],
      rss: synced.map((u) => u.rss),
      syncCpuS: synced.reduce((s, u, i) => s + u.cpu - cpu0[i].cpu, 0),
      endpoint: endpoint.sort((a, b) => a - b),
      endpointBytes: endpointBytes / CHANGES,
      resource: resource.sort((a, b) => a - b),
      resourceBytes: resourceBytes / CHANGES,
      endpointCpuS: endpointDone.reduce((s, u, i) => s + u.cpu - synced[i].cpu, 0) / CHANGES,
      resourceCpuS: after.reduce((s, u, i) => s + u.cpu - endpointDone[i].cpu, 0) / CHANGES,
      clientCpuS: (clientCpu.user + clientCpu.system) / 1e6 / (2 * CHANGES),
    };
    process.stdout.write(`${mode}: ${JSON.stringify(row)}\n`);
    return row;
  } finally {
    for (const c of clients) c.close();
    for (const p of proxies) await p.stop('SIGKILL');
    for (const r of replicas) {
      r.proc.child.kill('SIGCONT');
      await r.proc.stop('SIGTERM');
    }
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const LABEL: Record<string, string> = {
  file: 'file store, 1 control plane',
  etcd: 'etcd (3 members), 1 replica',
  etcd2: 'etcd (3 members), 2 replicas',
  'file-scoped': `file store, 1 control plane, a Sidecar scoping each proxy to ${SCOPE} services`,
  'etcd-scoped': `etcd (3 members), 1 replica, a Sidecar scoping each proxy to ${SCOPE} services`,
  'etcd2-scoped': `etcd (3 members), 2 replicas, a Sidecar scoping each proxy to ${SCOPE} services`,
  'file-ns': `file store, 1 control plane, ${NAMESPACES} namespaces, defaultServiceExportTo ["."] plus the callers' namespace`,
  'etcd-ns': `etcd (3 members), 1 replica, ${NAMESPACES} namespaces, defaultServiceExportTo ["."] plus the callers' namespace`,
  'etcd2-ns': `etcd (3 members), 2 replicas, ${NAMESPACES} namespaces, defaultServiceExportTo ["."] plus the callers' namespace`,
};

function render(rows: Row[]): string {
  const cpu = os.cpus();
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const kib = (v: number) => `${(v / 1024).toFixed(1)} KiB`;
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, etcd 3.4 (Debian, \`--max-txn-ops\` and \`--max-request-bytes\` raised so that the resources go in one apply); control plane(s), etcd and the clients share the machine. ` +
      `${SERVICES.toLocaleString('en')} services (ServiceEntry), ${(SERVICES * ENTRIES).toLocaleString('en')} endpoints (WorkloadEntries), ${CLIENTS.toLocaleString('en')} xDS clients: ` +
      "state-of-the-world ADS streams on weft's own gRPC call on its HTTP/2 client codec (`bench/lib/scale-client.ts`), each on its own connection, with a weft sidecar's node metadata, on the read-only plaintext xDS port; they subscribe and ACK like Envoy (wildcard CDS and LDS, RDS `outbound`, EDS for every EDS cluster, the whole EDS name list in every ACK) but do not unpack the resources they receive, since all of them share this process. " +
      `Without a Sidecar each client gets every service, as a weft sidecar does; in the scoped rows a namespace-wide \`Sidecar\` gives each ${SCOPE}; in the namespaces rows the services are spread over ${NAMESPACES} namespaces, MeshConfig \`defaultServiceExportTo: ["."]\` keeps each in its own and its \`exportTo\` adds the namespace that calls it, so each client gets ${(2 * SERVICES) / NAMESPACES} services, and a change is timed (and its bytes averaged) on the clients that see it. ` +
      `Endpoint change: a real \`weft proxy\` (registered over mTLS, running as its service's account like the service's other endpoints, so only EDS changes) is killed, \`--registry-grace 1ms\`; time until every client has the new endpoints. Resource change: an apply of a VirtualService; time until every client ACKed the routes. ${CHANGES} of each per row; p99 is the slowest. "streams reset": client streams that ended during the sync, each one resent everything (with grpc-js as the ADS transport, its keepalive closed streams whose PING ACK waited behind megabytes of queued responses; weft's own transport counts any frame from the client as life, docs/design/xds-transport.md).`,
    '',
    "| store | load average | connect + sync (streams reset) | RSS per replica | CPU for the initial sync | endpoint change p50 / p99 | bytes per client | resource change p50 / p99 | bytes per client | control-plane CPU per endpoint / resource change | clients' CPU per change |",
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${LABEL[r.mode] ?? r.mode} | ${r.load ? r.load.map((l) => l.toFixed(0)).join('-') : 'not recorded'} | ${r.connectS.toFixed(1)} s (${r.reconnects}) | ${r.rss.map((v) => `${v.toFixed(0)} MiB`).join(', ')} | ${r.syncCpuS.toFixed(1)} s | ` +
        `${ms(percentile(r.endpoint, 50))} / ${ms(percentile(r.endpoint, 99))} | ${kib(r.endpointBytes)} | ` +
        `${ms(percentile(r.resource, 50))} / ${ms(percentile(r.resource, 99))} | ${kib(r.resourceBytes)} | ${r.endpointCpuS.toFixed(2)} s / ${r.resourceCpuS.toFixed(2)} s | ${r.clientCpuS.toFixed(2)} s |`,
    ),
    '',
    `Reproduce: \`node bench/xds-scale.ts --clients ${CLIENTS} --changes ${CHANGES} --modes ${[...new Set(rows.map((r) => r.mode))].join(',')}\`.`,
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

/** The rows an earlier run printed (`MODE: {json}`), with the streams reset during each sync from its notes. */
async function rowsOf(file: string): Promise<Row[]> {
  const text = await readFile(file, 'utf8');
  const rows: Row[] = [];
  for (const [, mode, json] of text.matchAll(/^([\w-]+): (\{.*\})$/gm)) {
    const resets = new RegExp(`^${mode}: synced in [\\d.]+ s; (\\d+) reconnects$`, 'm').exec(text);
    const row = JSON.parse(json) as Row;
    row.reconnects ??= Number(resets?.[1] ?? Number.NaN);
    rows.push(row);
  }
  return rows;
}

const rows: Row[] = [];
if (args.rows) for (const file of args.rows.split(',')) rows.push(...(await rowsOf(file)));
else for (const mode of args.modes.split(',')) rows.push(await runMode(mode));
const table = render(rows);
process.stdout.write(`\n${table}\n`);
if (!args['no-write']) await writeSection(table);
