// Transparent capture (`weft run --capture`) beside the explicit proxy mode and a direct call, same run, across two network namespaces.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHosts, type Host, type Hosts } from '../test/helpers/netns.ts';
import { type BenchContext, type Benchmark, REPO } from './lib/context.ts';
import { type Child, startChild } from './lib/processes.ts';
import { cpuSeconds, processTree } from './lib/procfs.ts';
import { fmtDeltaMs, fmtInt, fmtMs, fmtRatio, markdownTable } from './lib/table.ts';
import { runWrk, type WrkOptions, type WrkResult, wrkErrors } from './lib/wrk.ts';

const WEFT_BIN = join(REPO, 'bin', 'weft.js');
const execFileAsync = promisify(execFile);
/** The captured app's group: wrk run with it is what the app itself would send. */
const APP_GID = 1337;
const CONNECTIONS = 50;
/** Rounds per path in a full run, in turns; the median round is shown. */
const ROUNDS = 3;
/** The backend: 1 KiB bodies, as the http1 section's nginx. */
const SERVER = `const body = Buffer.alloc(1024, 'x'); require('node:http').createServer((q, s) => s.end(body))
.listen(Number(process.argv[1] ?? process.env.PORT), process.argv[2] ?? process.env.HOST);`;
/** Fixed ports (each namespace is fresh): backend unit 8000-8003, client unit 9000-9003, plain server 7000. */
const PORTS = { backend: 8000, client: 9000, plain: 7000 };

interface Mesh {
  hosts: Hosts;
  h1: Host;
  h2: Host;
  children: Child[];
  /** The two sidecars' pids (the backend's and the client's), for their CPU time. */
  sidecars: number[];
}

/** A command inside a host, kept running; ready on `readyLine` (or at once). */
function startIn(host: Host, name: string, args: string[], readyLine?: RegExp, env = {}) {
  return startChild({
    name,
    command: 'ip',
    args: ['netns', 'exec', host.ns, ...args],
    env: { WEFT_LOG_LEVEL: 'warn', ...env },
    readyLine,
    readyTimeoutMs: 90_000,
  });
}

/** A `weft run` unit of `service` on fixed ports from `base`; resolves with the unit and its sidecar's pid. */
async function unit(
  mesh: Mesh,
  host: Host,
  service: string,
  base: number,
  server: string,
  env: object,
  extra: string[] = [],
) {
  const child = await startIn(
    host,
    `weft run (${service})`,
    [
      ...[process.execPath, WEFT_BIN, 'run', '--service', service, '--server', server, ...extra],
      ...['--app-port', String(base), '--inbound-port', String(base + 1)],
      ...['--outbound-port', String(base + 2), '--admin-port', String(base + 3)],
      ...['--', process.execPath, '-e', SERVER],
    ],
    /weft run: sidecar ready \(pid (\d+)/,
    env,
  );
  mesh.children.push(child);
  mesh.sidecars.push(Number(child.readyMatch![1]));
}

async function apply(mesh: Mesh, server: string, token: string, yaml: string): Promise<void> {
  const r = await mesh.hosts.exec(
    mesh.h1,
    process.execPath,
    [WEFT_BIN, 'apply', '-f', '-', '--server', server],
    {
      input: yaml,
      env: { WEFT_TOKEN: token },
    },
  );
  if (r.code !== 0) throw new Error(`weft apply failed: ${r.stdout}${r.stderr}`);
}

/** Control plane and backend unit on host 1 (plus a plain server for the direct row), the captured client unit on host 2. */
async function startMesh(ctx: BenchContext, hosts: Hosts): Promise<Mesh> {
  const [h1, h2] = hosts.hosts;
  const mesh: Mesh = { hosts, h1, h2, children: [], sidecars: [] };
  // Host 2 as a machine has it: a default route (the VIPs, 240.240.0.0/16, go by it) and a
  // resolver in /etc/resolv.conf (the app's queries to it are captured by the sidecar's mesh DNS).
  await execFileAsync('ip', ['-n', h2.ns, 'route', 'add', 'default', 'via', h1.address], { timeout: 10_000 });
  await mkdir(`/etc/netns/${h2.ns}`, { recursive: true });
  await writeFile(`/etc/netns/${h2.ns}/resolv.conf`, `nameserver ${h1.address}\n`);
  const dataDir = join(ctx.tmp, 'capture-cp');
  const cp = await startIn(
    h1,
    'weft control-plane',
    [
      process.execPath,
      WEFT_BIN,
      'control-plane',
      '--data-dir',
      dataDir,
      '--push-debounce',
      '10ms',
      '--api',
      `${h1.address}:15080`,
      '--xds',
      `${h1.address}:15010`,
    ],
    /weft control-plane ready: api (\S+)/,
  );
  mesh.children.push(cp);
  const server = cp.readyMatch![1];
  const token = readFileSync(join(dataDir, 'operator.token'), 'utf8').trim();
  // Both paths are judged on an mTLS hop, as the other mesh rows.
  await apply(
    mesh,
    server,
    token,
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`,
  );
  await unit(mesh, h1, 'backend', PORTS.backend, server, { WEFT_TOKEN: token });
  await unit(mesh, h2, 'client', PORTS.client, server, { WEFT_TOKEN: token }, [
    '--capture',
    '--capture-gid',
    String(APP_GID),
  ]);
  const plain = await startIn(h1, 'plain server', [
    process.execPath,
    '-e',
    SERVER,
    String(PORTS.plain),
    h1.address,
  ]);
  mesh.children.push(plain);
  return mesh;
}

/** A measured path: its row label and how wrk reaches it. */
interface Path {
  label: string;
  wrk: Omit<WrkOptions, 'bin' | 'connections' | 'durationS'>;
}

/** The paths, all from host 2 to the backend on host 1. */
function paths(mesh: Mesh): Path[] {
  const { h1, h2 } = mesh;
  const netns = ['ip', 'netns', 'exec', h2.ns];
  const asApp = [...netns, 'setpriv', '--regid', String(APP_GID), '--clear-groups'];
  return [
    {
      label: 'direct (no mesh)',
      wrk: { url: `http://${h1.address}:${PORTS.plain}/`, threads: 1, prefix: netns },
    },
    {
      label: "explicit proxy: client → its sidecar's outbound port (Host: backend) → backend's sidecar",
      wrk: {
        url: `http://127.0.0.1:${PORTS.client + 2}/`,
        headers: { Host: 'backend' },
        threads: 1,
        prefix: netns,
      },
    },
    {
      label: "capture: client (app group) → backend's address, redirected to its sidecar → backend's sidecar",
      wrk: { url: `http://${h1.address}:${PORTS.backend + 1}/`, threads: 1, prefix: asApp },
    },
    {
      label:
        "capture by name: client (app group) → http://backend/ (mesh DNS: the service's VIP), routed as HTTP by its sidecar → backend's sidecar",
      wrk: { url: 'http://backend/', threads: 1, prefix: asApp },
    },
  ];
}

/** Waits until `curl` on the path (same prefix, no proxy) gets a 200: the sidecars have the backend's endpoint. */
async function ready(mesh: Mesh, wrk: Path['wrk']): Promise<void> {
  const [, , , , ...asApp] = wrk.prefix ?? [];
  const headers = Object.entries(wrk.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    const curl = [
      'curl',
      '-sS',
      '-m',
      '5',
      '--noproxy',
      '*',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      ...headers,
      wrk.url,
    ];
    const [command, ...args] = [...asApp, ...curl];
    const r = await mesh.hosts.exec(mesh.h2, command, args, { timeoutMs: 10_000 });
    if (r.stdout === '200') return;
    last = r.stdout + r.stderr;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`${wrk.url} did not answer 200 within 60 s (last: ${last.trim()})`);
}

interface Row {
  label: string;
  throughput?: WrkResult;
  latency?: WrkResult;
  /** Both sidecars' CPU seconds per 1,000 requests of the throughput run. */
  cpuPer1k?: number;
  error?: string;
}

/** One round on one path: a warm-up, the throughput run (with the sidecars' CPU), the latency run. */
interface Round {
  throughput: WrkResult;
  latency: WrkResult;
  cpuSeconds: number;
}

async function measureRound(ctx: BenchContext, mesh: Mesh, path: Path, proxied: boolean): Promise<Round> {
  const c50 = {
    ...path.wrk,
    bin: ctx.tools.wrk!,
    connections: CONNECTIONS,
    durationS: ctx.durations.measureS,
  };
  await runWrk(c50, ctx.durations.warmupS);
  const pids = proxied ? mesh.sidecars.flatMap(processTree) : [];
  const cpuBefore = cpuSeconds(pids);
  const throughput = await runWrk(c50);
  const cpu = cpuSeconds(pids) - cpuBefore;
  const latency = await runWrk({ ...c50, connections: 1, durationS: latencyS(ctx) });
  return { throughput, latency, cpuSeconds: cpu };
}

function latencyS(ctx: BenchContext): number {
  return Math.max(2, ctx.durations.measureS / 2);
}

/** The round in the middle when sorted by `by` (the median round, its figures kept together). */
function median<T>(items: T[], by: (t: T) => number): T {
  return [...items].sort((a, b) => by(a) - by(b))[Math.floor((items.length - 1) / 2)];
}

/** A path's row from its rounds: the median round's figures, CPU over all rounds, every failure counted. */
function rowOf(path: Path, rounds: Round[], proxied: boolean, error?: string): Row {
  if (rounds.length === 0) return { label: path.label, error: `failed: ${error}` };
  const requests = rounds.reduce((n, r) => n + r.throughput.requests, 0);
  const cpu = rounds.reduce((n, r) => n + r.cpuSeconds, 0);
  const failed = rounds.reduce((n, r) => n + wrkErrors(r.throughput) + wrkErrors(r.latency), 0);
  const notes = [
    ...(error ? [`a round failed: ${error}`] : []),
    ...(failed > 0 ? [`${fmtInt(failed)} failed requests`] : []),
  ];
  return {
    label: path.label,
    throughput: median(rounds, (r) => r.throughput.requestsPerSecond).throughput,
    latency: median(rounds, (r) => r.latency.latencyMs.p50).latency,
    cpuPer1k: proxied && requests > 0 ? (cpu / requests) * 1000 : undefined,
    error: notes.length > 0 ? notes.join('; ') : undefined,
  };
}

/** Every path measured in turns, `rounds` times, so that a burst of load on the machine hits all of them alike. */
async function measureAll(ctx: BenchContext, mesh: Mesh, rounds: number): Promise<Row[]> {
  const all = paths(mesh);
  const results = all.map(() => ({ rounds: [] as Round[], error: undefined as string | undefined }));
  for (const [i, path] of all.entries()) {
    await ready(mesh, path.wrk).catch((err: Error) => {
      results[i].error = err.message.split('\n')[0];
    });
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [i, path] of all.entries()) {
      if (results[i].error && results[i].rounds.length === 0 && round > 1) continue;
      ctx.log(`capture: round ${round}/${rounds}: ${path.label}`);
      try {
        results[i].rounds.push(await measureRound(ctx, mesh, path, i > 0));
      } catch (err) {
        results[i].error = (err as Error).message.split('\n')[0];
      }
    }
  }
  return all.map((path, i) => rowOf(path, results[i].rounds, i > 0, results[i].error));
}

function table(rows: Row[]): string {
  const direct = rows[0].latency;
  const explicit = rows[1].throughput;
  return markdownTable(
    [
      'path',
      'req/s (c50)',
      'vs explicit',
      'p50 / p99 ms (c50)',
      'p50 / p99 ms (c1)',
      'added p50 / p99 ms (c1)',
      'sidecars CPU s / 1k req',
      'notes',
    ],
    rows.map((r) => [
      r.label,
      r.throughput ? fmtInt(r.throughput.requestsPerSecond) : '—',
      r.throughput && explicit ? fmtRatio(r.throughput.requestsPerSecond / explicit.requestsPerSecond) : '—',
      r.throughput ? `${fmtMs(r.throughput.latencyMs.p50)} / ${fmtMs(r.throughput.latencyMs.p99)}` : '—',
      r.latency ? `${fmtMs(r.latency.latencyMs.p50)} / ${fmtMs(r.latency.latencyMs.p99)}` : '—',
      r.latency && direct && r !== rows[0]
        ? `${fmtDeltaMs(r.latency.latencyMs.p50 - direct.latencyMs.p50)} / ${fmtDeltaMs(r.latency.latencyMs.p99 - direct.latencyMs.p99)}`
        : '—',
      r.cpuPer1k === undefined ? '—' : r.cpuPer1k.toFixed(3),
      r.error ?? '',
    ]),
  );
}

async function run(ctx: BenchContext): Promise<string> {
  const rounds = ctx.quick ? 1 : ROUNDS;
  const hosts = await createHosts(2);
  if ('refused' in hosts)
    return `Not measured in this run: ${hosts.refused}. The benchmark needs root (network namespaces and iptables).`;
  let rows: Row[];
  try {
    const mesh = await startMesh(ctx, hosts);
    try {
      rows = await measureAll(ctx, mesh, rounds);
    } finally {
      for (const c of mesh.children.reverse()) await c.stop();
    }
  } finally {
    await hosts.remove();
  }
  return `Two network namespaces on a bridge ("hosts" 1 and 2, as \`test/e2e/hosts.test.ts\`): the control
plane, a \`weft run\` unit \`backend\` (a Node server, 1 KiB bodies) and a plain copy of that server on host 1;
on host 2 a \`weft run --capture\` unit \`client\`, whose app group runs the load generator for the capture
row. Mesh-wide \`PeerAuthentication\` STRICT: both mesh rows cross an mTLS hop. Client: \`wrk -t1\` from
host 2; per path and round, ${ctx.durations.warmupS} s warm-up then ${ctx.durations.measureS} s with ${CONNECTIONS} connections (throughput),
then ${latencyS(ctx)} s with one connection (latency without queueing; "added" is over the direct row). The paths are
measured in turns, ${rounds} round${rounds > 1 ? 's' : ''}; each row shows its median round (by req/s, and by p50 for the
one-connection figures) and the sidecars' CPU over all its rounds.
The explicit row is what \`HTTP_PROXY\` gives an app (the request to the sidecar's outbound port,
routed by \`Host\`); the capture row is an unmodified client calling the backend's address, which
iptables hands to the client's sidecar: it finds the original destination in conntrack (once per
connection) and carries the bytes as TCP over mTLS to the backend's sidecar (no HTTP routing on the
client side), which is why it costs less sidecar CPU than the explicit row: the explicit client sidecar
parses, routes and re-encodes each request. The capture-by-name row is what an unmodified app calling
a service by name gets: the sidecar's mesh DNS answers \`backend\` with the service's VIP and the
connection to the VIP is routed as the service, HTTP with its routing rules, as the explicit row.
"sidecars CPU" is both sidecars' CPU time (user + system)
during the throughput runs per 1,000 of their requests.

${table(rows)}`;
}

export const benchmark: Benchmark = {
  name: 'capture',
  title: 'Transparent capture beside the explicit proxy mode',
  tools: ['wrk'],
  run,
};
