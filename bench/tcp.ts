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
  base: Omit<TcpClientConfig, 'direction' | 'bytes'>,
  backendPid: number,
  proxies: readonly ProxyProcess[] = [],
): Promise<Measured[]> {
  const cpu = () => proxies.map((p) => cpuSeconds(processTree(p.child.pid)));
  const kernel = () => proxies.reduce((sum, p) => sum + systemCpuSeconds(processTree(p.child.pid)), 0);
  const backendCpu = () => cpuSeconds(processTree(backendPid));
  const out: Measured[] = [];
  for (const direction of DIRECTIONS) {
    ctx.log(`tcp: ${base.connect ? 'mesh' : 'direct'} ${direction}`);
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
          figures: await measure(ctx, { port: path.port, connect: authority }, backendPid, path.proxies),
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

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startChild({
    name: 'tcp-bulk',
    command: ctx.node,
    args: [join(REPO, 'bench', 'lib', 'tcp-bulk-server.ts'), String(backendPort)],
    readyLine: /tcp-bulk ready/,
  });
  let direct: Measured[];
  let meshResult: Awaited<ReturnType<typeof meshFigures>>;
  try {
    direct = await measure(ctx, { port: backendPort }, backend.pid);
    meshResult = await meshFigures(ctx, backendPort, backend.pid);
  } finally {
    await backend.stop();
  }
  const { figures: mesh, transport, notes } = meshResult;

  const label = `weft mesh path (${transport ?? 'hop unknown'})`;
  const rows = DIRECTIONS.flatMap((direction, i) => {
    const d = direct[i];
    const m = mesh[i];
    const row = (name: string, x: Measured, base?: Measured) =>
      x.outcome === 'measured'
        ? [
            `${direction}: ${name}`,
            x.report.megabytesPerSecond.toFixed(0),
            fmtMs(x.report.seconds * 1000),
            base?.outcome === 'measured'
              ? fmtRatio(x.report.megabytesPerSecond / base.report.megabytesPerSecond)
              : name === 'direct'
                ? '1.00×'
                : '—',
            x.cpuPerGB.length > 0
              ? `${x.cpuPerGB.map((c) => `${c.role} ${c.seconds.toFixed(2)}`).join(', ')} (kernel ${x.proxyKernelPerGB.toFixed(2)})`
              : '',
            `${x.totalPerGB.toFixed(2)} (client ${x.clientPerGB.toFixed(2)}, backend ${x.backendPerGB.toFixed(2)})`,
            x.runs > 1 ? `median of ${x.runs}: ${x.minMBps.toFixed(0)}–${x.maxMBps.toFixed(0)} MB/s` : '',
          ]
        : [`${direction}: ${name}`, '—', '—', '—', '—', '—', `${x.outcome}: ${x.reason}`];
    return [row('direct', d), row(label, m, d)];
  });
  const mbps = (x: Measured) => (x.outcome === 'measured' ? x.report.megabytesPerSecond : undefined);
  const checks = DIRECTIONS.map((direction, i) => {
    const d = mbps(direct[i]);
    const m = mbps(mesh[i]);
    return check(
      `${direction} through the mTLS mesh path ≥ 0.7× direct`,
      d !== undefined && m !== undefined ? m / d : undefined,
      'at-least',
      0.7,
      (v) => `${fmtRatio(v)}: ${m?.toFixed(0)} vs ${d?.toFixed(0)} MB/s`,
      'mesh or direct row not measured',
    );
  });
  const bounds = DIRECTIONS.map((direction, i) => cpuBound(direction, direct[i], mesh[i], ctx.cores)).filter(
    (line) => line !== undefined,
  );
  const mib = ctx.durations.tcpBytes / 1024 / 1024;
  return `One TCP connection moving ${mib} MiB (${runs(ctx)} times; the median is shown) in 64 KiB writes to (upload) or from (download) a Node backend
(\`bench/lib/tcp-bulk-server.ts\`). The mesh path is how an app sends opaque TCP through weft: an HTTP
\`CONNECT service:${SERVICE_PORT}\` to the client sidecar's outbound listener, whose tunnel goes to the server sidecar
(declared \`--protocol tcp --service-port ${SERVICE_PORT}\`), whose inbound tcp_proxy goes to the backend. MB = 10^6 bytes;
time runs from the request to the last byte (download) or to the backend's acknowledgement (upload).
"proxy CPU s/GB": each proxy's CPU seconds (utime + stime from \`/proc\`) over the measured transfers
divided by the GB they moved, and the part of it spent in the kernel (stime); it depends far less on what else
runs on the machine than MB/s does. "all processes": the same for every process of the path (the client counts
its own CPU time over the transfer, without its start-up).

${markdownTable(['transfer', 'MB/s', 'time ms', 'vs direct', 'proxy CPU s/GB', 'all processes CPU s/GB', 'notes'], rows, ['left', 'right', 'right', 'right', 'left', 'left', 'left'])}
${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
The mesh path runs four processes (client, two sidecars, backend) on the machine's cores where direct runs two, so
its MB/s depends on free cores far more than direct's; on a busy machine judge by the CPU s/GB.
${bounds.length > 0 ? `\nWhat the CPU allows on ${ctx.cores} cores (cores ÷ all processes' CPU s/GB: the MB/s of a path that kept every core busy):\n${bounds.join('\n')}\n` : ''}
Targets (issue 20):
${targetLines(checks)}
`;
}

/**
 * The CPU arithmetic of one direction: the MB/s each path's CPU s/GB allows on every core, the
 * mesh's as a share of direct's measured MB/s, and the same if the sidecars cost only their kernel
 * time (no user-space work at all: what any proxy in user space pays for the two extra TCP hops).
 */
function cpuBound(direction: string, d: Measured, m: Measured, cores: number): string | undefined {
  if (d.outcome !== 'measured' || m.outcome !== 'measured') return undefined;
  const most = (perGB: number) => (cores / perGB) * 1000;
  const of = (perGB: number) =>
    `${most(perGB).toFixed(0)} MB/s (${fmtRatio(most(perGB) / d.report.megabytesPerSecond)} of direct's ${d.report.megabytesPerSecond.toFixed(0)})`;
  const kernelOnly = m.clientPerGB + m.backendPerGB + m.proxyKernelPerGB;
  return `- ${direction}: the mesh path's ${m.totalPerGB.toFixed(2)} s/GB allow at most ${of(m.totalPerGB)}; with sidecars that spent only their kernel time (${m.proxyKernelPerGB.toFixed(2)} s/GB) ${of(kernelOnly)}. Direct's ${d.totalPerGB.toFixed(2)} s/GB would allow ${most(d.totalPerGB).toFixed(0)} MB/s: one connection between two processes is not CPU-bound.`;
}

export const benchmark: Benchmark = {
  name: 'tcp',
  title: 'Opaque TCP throughput through the mesh path',
  tools: [],
  run,
};
