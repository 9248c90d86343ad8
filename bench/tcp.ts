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
import { controlPlaneOrError, type HopTransport, stopControlPlane, waitUntil } from './lib/weft.ts';

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

async function measure(
  ctx: BenchContext,
  label: string,
  base: Omit<TcpClientConfig, 'direction' | 'bytes'>,
  backendPid: number,
  proxies: readonly ProxyProcess[] = [],
): Promise<Measured[]> {
  const cpu = () => proxies.map((p) => cpuSeconds(processTree(p.child.pid)));
  const kernel = () => proxies.reduce((sum, p) => sum + systemCpuSeconds(processTree(p.child.pid)), 0);
  const backendCpu = () => cpuSeconds(processTree(backendPid));
  const out: Measured[] = [];
  for (const direction of DIRECTIONS) {
    ctx.log(`tcp: ${label} ${direction}`);
    try {
      // A short transfer first so that connection set-up is not in the figure's first run.
      await transfer(ctx, { ...base, direction, bytes: 1024 * 1024 });
      const reports: TcpClientReport[] = [];
      const before = { proxies: cpu(), kernel: kernel(), backend: backendCpu() };
      for (let i = 0; i < runs(ctx); i++)
        reports.push(await transfer(ctx, { ...base, direction, bytes: ctx.durations.tcpBytes }));
      const after = { proxies: cpu(), kernel: kernel(), backend: backendCpu() };
      const gb = (reports.length * ctx.durations.tcpBytes) / 1e9;
      const cpuPerGB = proxies.map((p, i) => ({
        role: p.role,
        seconds: (after.proxies[i] - before.proxies[i]) / gb,
      }));
      const clientPerGB = reports.reduce((sum, r) => sum + r.cpuSeconds, 0) / gb;
      const backendPerGB = (after.backend - before.backend) / gb;
      reports.sort((a, b) => a.megabytesPerSecond - b.megabytesPerSecond);
      out.push({
        outcome: 'measured',
        report: reports[Math.floor(reports.length / 2)],
        runs: reports.length,
        minMBps: reports[0].megabytesPerSecond,
        maxMBps: reports[reports.length - 1].megabytesPerSecond,
        cpuPerGB,
        proxyKernelPerGB: (after.kernel - before.kernel) / gb,
        clientPerGB,
        backendPerGB,
        totalPerGB: clientPerGB + backendPerGB + cpuPerGB.reduce((sum, c) => sum + c.seconds, 0),
      });
    } catch (err) {
      out.push({
        outcome: 'failed',
        reason: err instanceof Error ? err.message.split('\n')[0] : String(err),
      });
    }
  }
  return out;
}

/** The mesh half: control plane, two sidecars, the same transfers through CONNECT. Never throws: failures become rows. */
async function meshFigures(
  ctx: BenchContext,
  backendPort: number,
  backendPid: number,
): Promise<{ figures: Measured[]; transport?: HopTransport; notes: string[] }> {
  const cp = await controlPlaneOrError(ctx);
  try {
    if (cp instanceof Error) throw cp;
    const path = await startMesh(ctx, { cp }, backendPort, { protocol: 'tcp', servicePort: SERVICE_PORT });
    try {
      const authority = `${path.service}:${SERVICE_PORT}`;
      const works = await waitUntil(async () => {
        await transfer(ctx, { port: path.port, connect: authority, direction: 'download', bytes: 1024 });
        return 'ok';
      }, 20_000);
      if (works.outcome === 'ok')
        return {
          figures: await measure(
            ctx,
            'weft mesh path',
            { port: path.port, connect: authority },
            backendPid,
            path.proxies,
          ),
          transport: path.transport,
          notes: path.notes,
        };
      const why = `not supported by this build: CONNECT ${authority} through the client sidecar fails (${works.last})`;
      return {
        figures: DIRECTIONS.map(() => ({ outcome: 'not supported', reason: why })),
        transport: path.transport,
        notes: path.notes,
      };
    } finally {
      await path.stop();
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { figures: DIRECTIONS.map(() => ({ outcome: 'failed', reason })), notes: [] };
  } finally {
    await stopControlPlane(cp);
  }
}

/** A reference pair (HAProxy or Node.js relays) measured like the mesh path. Never throws: failures become rows. */
async function referenceFigures(
  ctx: BenchContext,
  label: string,
  start: () => Promise<RefPair>,
  backendPid: number,
): Promise<Measured[]> {
  try {
    const pair = await start();
    try {
      return await measure(ctx, label, { port: pair.port }, backendPid, pair.proxies);
    } finally {
      await pair.stop();
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return DIRECTIONS.map(() => ({ outcome: 'failed', reason }));
  }
}

/** Every path's figures, in table order; the weft mesh path second. */
async function allPaths(ctx: BenchContext, backendPort: number, backendPid: number) {
  const direct = await measure(ctx, 'direct', { port: backendPort }, backendPid);
  const mesh = await meshFigures(ctx, backendPort, backendPid);
  const certs = await makeCerts(ctx);
  const haproxy = await referenceFigures(
    ctx,
    'HAProxy pair',
    () => startHaproxyPair(ctx, certs, backendPort),
    backendPid,
  );
  const node = await referenceFigures(
    ctx,
    'Node.js relay pair',
    () => startNodeRelayPair(ctx, certs, backendPort),
    backendPid,
  );
  return {
    mesh,
    paths: [
      { label: 'direct', figures: direct },
      { label: `weft mesh path (${mesh.transport ?? 'hop unknown'})`, figures: mesh.figures },
      { label: 'HAProxy pair (mTLS)', figures: haproxy },
      { label: 'Node.js relay pair (mTLS)', figures: node },
    ],
  };
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
  const { paths, mesh } = result;
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
  const mib = ctx.durations.tcpBytes / 1024 / 1024;
  return `${describe(mib, runs(ctx))}

${markdownTable(['transfer', 'MB/s', 'time ms', 'vs direct', 'proxy CPU s/GB', 'all processes CPU s/GB', 'notes'], rows, ['left', 'right', 'right', 'right', 'left', 'left', 'left'])}
${mesh.notes.length > 0 ? `\n${mesh.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
The mesh paths run four processes (client, two proxies, backend) on the machine's cores where direct runs two, so
their MB/s depends on free cores far more than direct's; on a busy machine judge by the CPU s/GB.
${bounds.length > 0 ? `\nWhat the CPU allows on ${ctx.cores} cores (cores ÷ all processes' CPU s/GB: the MB/s of a path that kept every core busy; "kernel only": the same if its two proxies had spent only their kernel time):\n${bounds.join('\n')}\n` : ''}
Targets (issue 20):
${targetLines(checks)}
`;
}

function describe(mib: number, n: number): string {
  return `One TCP connection moving ${mib} MiB (${n} times; the median is shown) in 64 KiB writes to (upload) or from (download) a Node backend
(\`bench/lib/tcp-bulk-server.ts\`). The mesh path is how an app sends opaque TCP through weft: an HTTP
\`CONNECT service:${SERVICE_PORT}\` to the client sidecar's outbound listener, whose tunnel goes to the server sidecar
(declared \`--protocol tcp --service-port ${SERVICE_PORT}\`), whose inbound tcp_proxy goes to the backend. MB = 10^6 bytes;
time runs from the request to the last byte (download) or to the backend's acknowledgement (upload).
The two reference pairs carry the same transfers over the same kind of hop without weft: the client connects in
plaintext to a client-side proxy, which opens TLS 1.3 with a client certificate (ECDSA P-256, made by the bench;
both sides verify the other's certificate against the CA) to a server-side proxy, which connects to the backend.
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
