// Opaque TCP throughput (MB/s) through the weft mesh path (HTTP CONNECT into the client sidecar, tcp_proxy out of the server sidecar) versus direct.
import { join } from 'node:path';
import { type BenchContext, type Benchmark, REPO } from './lib/context.ts';
import { type ProxyProcess, startMesh } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { runCommand, startChild } from './lib/processes.ts';
import { cpuSeconds, processTree, systemCpuSeconds } from './lib/procfs.ts';
import { fmtMs, fmtRatio, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import type { TcpClientConfig, TcpClientReport } from './lib/tcp-bulk-client.ts';
import { makeCerts, type RefPair, startHaproxyPair, startNodeRelayPair } from './lib/tcp-ref-mesh.ts';
import { controlPlaneOrError, stopControlPlane, waitUntil } from './lib/weft.ts';

const SERVICE_PORT = 9000;
const DIRECTIONS = ['download', 'upload'] as const;

/** Transfers per figure (the median is shown). */
const runs = (ctx: BenchContext) => (ctx.quick ? 1 : 3);

/**
 * A measured transfer is the median of `runs` transfers (by MB/s); min and max are kept for the
 * notes. `cpuPerGB`: for a path with proxies, each one's CPU seconds (utime + stime, its whole
 * process tree) over all measured runs divided by the GB they moved, in the order of the path's
 * proxies; `proxyKernelPerGB` the part of theirs spent in the kernel (stime). `totalPerGB`: the
 * same for every process of the path (client, proxies, backend).
 */
type Measured =
  | {
      outcome: 'measured';
      report: TcpClientReport;
      runs: number;
      minMBps: number;
      maxMBps: number;
      cpuPerGB: { role: string; seconds: number }[];
      proxyKernelPerGB: number;
      clientPerGB: number;
      backendPerGB: number;
      totalPerGB: number;
    }
  | { outcome: 'failed' | 'not supported'; reason: string };

async function transfer(ctx: BenchContext, config: TcpClientConfig): Promise<TcpClientReport> {
  const r = await runCommand(
    'tcp client',
    ctx.node,
    [join(REPO, 'bench', 'lib', 'tcp-bulk-client.ts'), JSON.stringify(config)],
    { timeoutMs: 180_000 },
  );
  if (r.code !== 0) throw new Error(r.stderr.trim() || `tcp client exited ${r.code ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TcpClientReport;
}

/** A path the transfers go through: where the client connects, and the proxies whose CPU is counted. */
interface Path {
  label: string;
  base: Omit<TcpClientConfig, 'direction' | 'bytes'>;
  proxies: readonly ProxyProcess[];
}

/** A path that could not be set up: its rows say why. */
interface Unavailable {
  label: string;
  outcome: 'failed' | 'not supported';
  reason: string;
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message.split('\n')[0] : String(err));

/** CPU seconds so far of a path's proxies (each, whole process trees), their kernel part, and the backend's. */
function cpuNow(path: Path, backendPid: number) {
  const trees = path.proxies.map((p) => processTree(p.child.pid));
  return {
    proxies: trees.map((t) => cpuSeconds(t)),
    kernel: trees.reduce((sum, t) => sum + systemCpuSeconds(t), 0),
    backend: cpuSeconds(processTree(backendPid)),
  };
}

/** What one path's measured transfers of one direction add up to. */
interface Tally {
  reports: TcpClientReport[];
  proxies: number[];
  kernel: number;
  backend: number;
  error?: string;
}

/**
 * One direction through every path: a short transfer per path first (connection set-up stays out of
 * the figures), then `runs` rounds, each moving the bytes once through every path in turn, so that
 * load from elsewhere on the machine falls on all paths alike.
 */
async function measureDirection(
  ctx: BenchContext,
  direction: (typeof DIRECTIONS)[number],
  paths: readonly Path[],
  backendPid: number,
): Promise<Measured[]> {
  const tallies: Tally[] = paths.map((p) => ({
    reports: [],
    proxies: p.proxies.map(() => 0),
    kernel: 0,
    backend: 0,
  }));
  for (const [i, p] of paths.entries())
    await transfer(ctx, { ...p.base, direction, bytes: 1024 * 1024 }).catch(
      (err) => (tallies[i].error = reasonOf(err)),
    );
  for (let round = 1; round <= runs(ctx); round++)
    for (const [i, p] of paths.entries()) {
      const t = tallies[i];
      if (t.error !== undefined) continue;
      ctx.log(`tcp: ${direction} round ${round}: ${p.label}`);
      const before = cpuNow(p, backendPid);
      try {
        t.reports.push(await transfer(ctx, { ...p.base, direction, bytes: ctx.durations.tcpBytes }));
      } catch (err) {
        t.error = reasonOf(err);
        continue;
      }
      const after = cpuNow(p, backendPid);
      for (const k of t.proxies.keys()) t.proxies[k] += after.proxies[k] - before.proxies[k];
      t.kernel += after.kernel - before.kernel;
      t.backend += after.backend - before.backend;
    }
  return paths.map((p, i) => summarize(ctx, p, tallies[i]));
}

function summarize(ctx: BenchContext, path: Path, t: Tally): Measured {
  if (t.error !== undefined) return { outcome: 'failed', reason: t.error };
  const reports = [...t.reports].sort((a, b) => a.megabytesPerSecond - b.megabytesPerSecond);
  const gb = (reports.length * ctx.durations.tcpBytes) / 1e9;
  const cpuPerGB = path.proxies.map((p, k) => ({ role: p.role, seconds: t.proxies[k] / gb }));
  const clientPerGB = reports.reduce((sum, r) => sum + r.cpuSeconds, 0) / gb;
  const backendPerGB = t.backend / gb;
  return {
    outcome: 'measured',
    report: reports[Math.floor(reports.length / 2)],
    runs: reports.length,
    minMBps: reports[0].megabytesPerSecond,
    maxMBps: reports[reports.length - 1].megabytesPerSecond,
    cpuPerGB,
    proxyKernelPerGB: t.kernel / gb,
    clientPerGB,
    backendPerGB,
    totalPerGB: clientPerGB + backendPerGB + cpuPerGB.reduce((sum, c) => sum + c.seconds, 0),
  };
}

/** The weft mesh path: control plane, two sidecars, CONNECT into the client sidecar. Never throws. */
async function weftPath(
  ctx: BenchContext,
  backendPort: number,
  stops: (() => Promise<void>)[],
): Promise<{ path: Path | Unavailable; notes: string[] }> {
  let label = 'weft mesh path (hop unknown)';
  try {
    const cp = await controlPlaneOrError(ctx);
    if (cp instanceof Error) throw cp;
    stops.push(() => stopControlPlane(cp));
    const mesh = await startMesh(ctx, { cp }, backendPort, { protocol: 'tcp', servicePort: SERVICE_PORT });
    stops.push(() => mesh.stop());
    label = `weft mesh path (${mesh.transport ?? 'hop unknown'})`;
    const authority = `${mesh.service}:${SERVICE_PORT}`;
    const works = await waitUntil(async () => {
      await transfer(ctx, { port: mesh.port, connect: authority, direction: 'download', bytes: 1024 });
      return 'ok';
    }, 20_000);
    if (works.outcome === 'ok')
      return {
        path: { label, base: { port: mesh.port, connect: authority }, proxies: mesh.proxies },
        notes: mesh.notes,
      };
    const reason = `not supported by this build: CONNECT ${authority} through the client sidecar fails (${works.last})`;
    return { path: { label, outcome: 'not supported', reason }, notes: mesh.notes };
  } catch (err) {
    return { path: { label, outcome: 'failed', reason: reasonOf(err) }, notes: [] };
  }
}

/** A reference pair (HAProxy or Node.js relays), plaintext into its client side. Never throws. */
async function referencePath(
  label: string,
  start: () => Promise<RefPair>,
  stops: (() => Promise<void>)[],
): Promise<Path | Unavailable> {
  try {
    const pair = await start();
    stops.push(() => pair.stop());
    return { label, base: { port: pair.port }, proxies: pair.proxies };
  } catch (err) {
    return { label, outcome: 'failed', reason: reasonOf(err) };
  }
}

/** Every path's figures, in table order (direct first, the weft mesh path second); all paths run side by side. */
async function allPaths(ctx: BenchContext, backendPort: number, backendPid: number) {
  const stops: (() => Promise<void>)[] = [];
  try {
    const weft = await weftPath(ctx, backendPort, stops);
    const certs = makeCerts(ctx);
    const all: (Path | Unavailable)[] = [
      { label: 'direct', base: { port: backendPort }, proxies: [] },
      weft.path,
      await referencePath('HAProxy pair (mTLS)', () => startHaproxyPair(ctx, certs, backendPort), stops),
      await referencePath(
        'Node.js relay pair (mTLS)',
        () => startNodeRelayPair(ctx, certs, backendPort),
        stops,
      ),
    ];
    const ready = all.filter((p): p is Path => 'base' in p);
    const byDirection: Measured[][] = [];
    for (const direction of DIRECTIONS)
      byDirection.push(await measureDirection(ctx, direction, ready, backendPid));
    const figures = (p: Path | Unavailable): Measured[] =>
      'base' in p
        ? byDirection.map((measured) => measured[ready.indexOf(p)])
        : DIRECTIONS.map(() => ({ outcome: p.outcome, reason: p.reason }));
    return { notes: weft.notes, paths: all.map((p) => ({ label: p.label, figures: figures(p) })) };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

function row(direction: string, name: string, x: Measured, base: Measured | undefined): string[] {
  if (x.outcome !== 'measured')
    return [`${direction}: ${name}`, '—', '—', '—', '—', '—', `${x.outcome}: ${x.reason}`];
  return [
    `${direction}: ${name}`,
    x.report.megabytesPerSecond.toFixed(0),
    fmtMs(x.report.seconds * 1000),
    base?.outcome === 'measured'
      ? fmtRatio(x.report.megabytesPerSecond / base.report.megabytesPerSecond)
      : '—',
    x.cpuPerGB.length > 0
      ? `${x.cpuPerGB.map((c) => `${c.role} ${c.seconds.toFixed(2)}`).join(', ')} (kernel ${x.proxyKernelPerGB.toFixed(2)})`
      : '',
    `${x.totalPerGB.toFixed(2)} (client ${x.clientPerGB.toFixed(2)}, backend ${x.backendPerGB.toFixed(2)})`,
    x.runs > 1 ? `median of ${x.runs}: ${x.minMBps.toFixed(0)}–${x.maxMBps.toFixed(0)} MB/s` : '',
  ];
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startChild({
    name: 'tcp-bulk',
    command: ctx.node,
    args: [join(REPO, 'bench', 'lib', 'tcp-bulk-server.ts'), String(backendPort)],
    readyLine: /tcp-bulk ready/,
  });
  let result: Awaited<ReturnType<typeof allPaths>>;
  try {
    result = await allPaths(ctx, backendPort, backend.pid);
  } finally {
    await backend.stop();
  }
  const { paths, notes } = result;
  const [direct, weft] = [paths[0].figures, paths[1].figures];
  const rows = DIRECTIONS.flatMap((direction, i) =>
    paths.map((p) => row(direction, p.label, p.figures[i], direct[i])),
  );
  const mbps = (x: Measured) => (x.outcome === 'measured' ? x.report.megabytesPerSecond : undefined);
  const checks = DIRECTIONS.map((direction, i) => {
    const d = mbps(direct[i]);
    const m = mbps(weft[i]);
    return check(
      `${direction} through the mTLS mesh path ≥ 0.7× direct`,
      d !== undefined && m !== undefined ? m / d : undefined,
      'at-least',
      0.7,
      (v) => `${fmtRatio(v)}: ${m?.toFixed(0)} vs ${d?.toFixed(0)} MB/s`,
      'mesh or direct row not measured',
    );
  });
  const bounds = DIRECTIONS.flatMap((direction, i) =>
    paths.slice(1).map((p) => cpuBound(direction, p.label, direct[i], p.figures[i], ctx.cores)),
  ).filter((line) => line !== undefined);
  const proxyLines = DIRECTIONS.map((direction, i) => proxyComparison(direction, paths, i)).filter(
    (line) => line !== undefined,
  );
  const mib = ctx.durations.tcpBytes / 1024 / 1024;
  return `${describe(mib, runs(ctx))}

${markdownTable(['transfer', 'MB/s', 'time ms', 'vs direct', 'proxy CPU s/GB', 'all processes CPU s/GB', 'notes'], rows, ['left', 'right', 'right', 'right', 'left', 'left', 'left'])}
${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
The mesh paths run four processes (client, two proxies, backend) on the machine's cores where direct runs two, so
their MB/s depends on free cores far more than direct's; on a busy machine judge by the CPU s/GB.
${bounds.length > 0 ? `\nWhat the CPU allows on ${ctx.cores} cores (cores ÷ all processes' CPU s/GB: the MB/s of a path that kept every core busy; "kernel only": the same if its two proxies had spent only their kernel time):\n${bounds.join('\n')}\n` : ''}
${proxyLines.length > 0 ? `\nThe two proxies of each mesh path alone (what the mesh adds; CPU s/GB, and its user-space part):\n${proxyLines.join('\n')}\n` : ''}
Targets (issue 20):
${targetLines(checks)}
`;
}

/** The CPU s/GB of each mesh path's two proxies, their user-space part, and weft's against the HAProxy pair. */
function proxyComparison(
  direction: string,
  paths: readonly { label: string; figures: Measured[] }[],
  i: number,
): string | undefined {
  const sides = paths.slice(1).flatMap((p) => {
    const m = p.figures[i];
    if (m.outcome !== 'measured') return [];
    const total = m.cpuPerGB.reduce((sum, c) => sum + c.seconds, 0);
    return [{ label: p.label, total, user: total - m.proxyKernelPerGB }];
  });
  if (sides.length === 0) return undefined;
  const [weft, haproxy] = [
    sides.find((x) => x.label.startsWith('weft')),
    sides.find((x) => x.label.startsWith('HAProxy')),
  ];
  const ratio =
    weft && haproxy
      ? `; weft ÷ HAProxy pair: ${fmtRatio(weft.total / haproxy.total)} in all, ${fmtRatio(weft.user / haproxy.user)} in user space`
      : '';
  return `- ${direction}: ${sides.map((x) => `${x.label} ${x.total.toFixed(2)} (user ${x.user.toFixed(2)})`).join(', ')}${ratio}.`;
}

function describe(mib: number, n: number): string {
  return `One TCP connection moving ${mib} MiB (${n} times per path, in rounds that take every path in turn; the median is shown) in 64 KiB writes to (upload) or from (download) a Node backend
(\`bench/lib/tcp-bulk-server.ts\`). The mesh path is how an app sends opaque TCP through weft: an HTTP
\`CONNECT service:${SERVICE_PORT}\` to the client sidecar's outbound listener, whose tunnel goes to the server sidecar
(declared \`--protocol tcp --service-port ${SERVICE_PORT}\`), whose inbound tcp_proxy goes to the backend. MB = 10^6 bytes;
time runs from the request to the last byte (download) or to the backend's acknowledgement (upload).
The two reference pairs carry the same transfers over the same kind of hop without weft: the client connects in
plaintext to a client-side proxy, which opens TLS 1.3 with a client certificate (ECDSA P-256, made by the bench;
both sides verify the other's certificate against the CA; AES-128-GCM, as weft's hop) to a server-side proxy, which connects to the backend.
"HAProxy pair": two HAProxy processes in TCP mode, one thread each, 64 KiB buffers like weft's bulk tunnels (what a
mesh of C proxies gets on this machine). "Node.js relay pair": two processes of \`bench/lib/tcp-node-relay.ts\`, node:net and node:tls
joined by \`pipe()\`, no weft code (the floor of a mesh hop written in Node.js).
"proxy CPU s/GB": each proxy's CPU seconds (utime + stime from \`/proc\`) over the measured transfers
divided by the GB they moved, and the part of it spent in the kernel (stime); it depends far less on what else
runs on the machine than MB/s does. "all processes": the same for every process of the path (the client counts
its own CPU time over the transfer, without its start-up).`;
}

/**
 * The CPU arithmetic of one direction: the MB/s each path's CPU s/GB allows on every core, the
 * mesh's as a share of direct's measured MB/s, and the same if the sidecars cost only their kernel
 * time (no user-space work at all: what any proxy in user space pays for the two extra TCP hops).
 */
function cpuBound(
  direction: string,
  label: string,
  d: Measured,
  m: Measured,
  cores: number,
): string | undefined {
  if (d.outcome !== 'measured' || m.outcome !== 'measured') return undefined;
  const most = (perGB: number) => (cores / perGB) * 1000;
  const of = (perGB: number) =>
    `${most(perGB).toFixed(0)} MB/s (${fmtRatio(most(perGB) / d.report.megabytesPerSecond)} of direct's ${d.report.megabytesPerSecond.toFixed(0)})`;
  const kernelOnly = m.clientPerGB + m.backendPerGB + m.proxyKernelPerGB;
  return `- ${direction}, ${label}: ${m.totalPerGB.toFixed(2)} s/GB allow at most ${of(m.totalPerGB)}; kernel only (${m.proxyKernelPerGB.toFixed(2)} s/GB) ${of(kernelOnly)}.`;
}

export const benchmark: Benchmark = {
  name: 'tcp',
  title: 'Opaque TCP throughput through the mesh path',
  tools: ['haproxy'],
  run,
};
