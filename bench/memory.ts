// Proxy resources: resident memory idle and under load, CPU seconds per 1,000 requests (at 1,000 req/s and saturated).
import type { BenchContext, Benchmark } from './lib/context.ts';
import {
  type BurstFigures,
  footprintSection,
  grpcBurstFootprint,
  type NodeModeFigures,
  nodeModeFootprint,
} from './lib/footprint.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { PATH_LABELS, type PathKind, type RunningPath, startPath } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { startChild } from './lib/processes.ts';
import {
  type MemoryBreakdown,
  memoryBreakdown,
  processTree,
  ResourceSampler,
  type ResourceUse,
} from './lib/procfs.ts';
import { runRate } from './lib/rate.ts';
import { fmtInt, fmtMB, fmtRatio, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import { controlPlaneOrError, stopControlPlane } from './lib/weft.ts';
import { runWrk, wrkErrors } from './lib/wrk.ts';

const RATE = 1000;
const CONNECTIONS = 50;
const PATHS: readonly PathKind[] = [
  'weft',
  'weft-mesh',
  'nginx',
  'haproxy',
  'haproxy-mesh',
  'node-peer',
  'node-floor',
];
/** Issue 20's bound on one weft proxy's CPU per request at 1,000 req/s, as a multiple of nginx's. */
const CPU_VS_NGINX_TARGET = 1.5;
const IDLE_RSS_TARGET_BYTES = 50e6;
/** Workloads added to the node agent after its first (the per-workload cost is their average). */
const NODE_EXTRA_WORKLOADS = 40;
/** Services of the mesh the node agent's workloads are instances of (its size stays the same). */
const NODE_MESH_SERVICES = 21;

/** Figures of one proxy process (a path may have two: the mesh's sidecars). */
interface ProxyFigures {
  role: string;
  kind: PathKind;
  idle: MemoryBreakdown;
  /** During the first fixed-rate run, the first traffic after the idle wait. */
  firstAtRate: ResourceUse & { requests: number };
  /** During the second fixed-rate run, right after the first (steady state). */
  atRate: ResourceUse & { requests: number };
  /** During the closed-loop run. */
  saturated: ResourceUse & { requests: number; requestsPerSecond: number };
  notes: string[];
}

/** A process measured idle only, for reference (an empty Node.js process: the floor of any Node program). */
interface IdleReference {
  role: string;
  reference: MemoryBreakdown;
}

type Row = ProxyFigures | IdleReference | { kind: PathKind; role: string; failed: string };

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

function samplers(path: RunningPath): ResourceSampler[] {
  return path.proxies.map((p) => new ResourceSampler(p.child.pid));
}

async function measure(ctx: BenchContext, kind: PathKind, start: () => Promise<RunningPath>): Promise<Row[]> {
  ctx.log(`memory: ${PATH_LABELS[kind]}`);
  let path: RunningPath | undefined;
  try {
    path = await start();
    await sleep(ctx.durations.idleSettleS);
    const idle = path.proxies.map((p) => memoryBreakdown(processTree(p.child.pid)));

    const atFixedRate = () =>
      runRate(ctx, {
        port: path!.port,
        host: path!.host,
        path: '/',
        rate: RATE,
        warmupS: 0,
        durationS: ctx.durations.openLoopS / 2,
        connections: CONNECTIONS,
      });
    // The first seconds of traffic to a fresh process include its JIT compiling the request path: measured apart.
    let sampling = samplers(path);
    const first = await atFixedRate();
    const firstUse = sampling.map((s) => s.stop());
    sampling = samplers(path);
    const rate = await atFixedRate();
    const atRate = sampling.map((s) => s.stop());

    const wrk = {
      bin: ctx.tools.wrk!,
      url: `http://127.0.0.1:${path.port}/`,
      connections: CONNECTIONS,
      threads: 1,
      durationS: ctx.durations.measureS,
      headers: path.host ? { Host: path.host } : undefined,
    };
    sampling = samplers(path);
    const loaded = await runWrk(wrk);
    const saturated = sampling.map((s) => s.stop());

    const notes: string[] = [];
    if (path.transport) notes.push(`hop: ${path.transport}`);
    const rateErrors = first.errors + first.timedOut + rate.errors + rate.timedOut;
    if (rateErrors > 0) notes.push(`${rateErrors} failed requests at ${RATE} req/s`);
    if (wrkErrors(loaded) > 0) notes.push(`${wrkErrors(loaded)} failed requests under wrk`);
    return path.proxies.map((p, i) => ({
      role: p.role,
      kind,
      idle: idle[i],
      firstAtRate: { ...firstUse[i], requests: first.recorded },
      atRate: { ...atRate[i], requests: rate.recorded },
      saturated: { ...saturated[i], requests: loaded.requests, requestsPerSecond: loaded.requestsPerSecond },
      notes,
    }));
  } catch (err) {
    return [
      {
        kind,
        role: PATH_LABELS[kind],
        failed: err instanceof Error ? err.message.split('\n')[0] : String(err),
      },
    ];
  } finally {
    await path?.stop();
  }
}

/** An empty Node.js process (the same binary weft runs on), idle for as long as the proxies were. */
async function bareNode(ctx: BenchContext): Promise<Row> {
  const role = 'empty Node.js process (reference: `node -e "setInterval(…)"`)';
  try {
    const child = await startChild({
      name: 'empty node',
      command: ctx.node,
      args: ['-e', "setInterval(() => {}, 1e6); console.log('idle node ready')"],
      readyLine: /idle node ready/,
    });
    try {
      await sleep(ctx.durations.idleSettleS);
      return { role, reference: memoryBreakdown([child.pid]) };
    } finally {
      await child.stop();
    }
  } catch (err) {
    return { kind: 'direct', role, failed: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

const dashes = (n: number): string[] => Array<string>(n).fill('—');

const perThousand = (u: ResourceUse & { requests: number }) =>
  u.requests > 0 ? ((u.cpuSeconds / u.requests) * 1000).toFixed(3) : '—';

/** CPU s per 1k requests at the fixed rate of the rows the CPU target and its references are read from. */
interface CpuAtRate {
  weft?: number;
  nginx?: number;
  floor?: number;
}

function cpuAtRate(rows: readonly Row[]): CpuAtRate {
  const of = (kind: PathKind) => {
    const r = rows.find((x): x is ProxyFigures => 'atRate' in x && x.kind === kind);
    return r && r.atRate.requests > 0 ? (r.atRate.cpuSeconds / r.atRate.requests) * 1000 : undefined;
  };
  return { weft: of('weft'), nginx: of('nginx'), floor: of('node-floor') };
}

/** What the Node.js floor says about the CPU target on this machine. */
function cpuFloorLines(c: CpuAtRate): string {
  if (c.floor === undefined || c.nginx === undefined)
    return 'The Node.js floor or nginx has no figure at this rate in this run.';
  const floorRatio = c.floor / c.nginx;
  const verdict =
    floorRatio >= CPU_VS_NGINX_TARGET
      ? `so the ≤ ${CPU_VS_NGINX_TARGET}× target is below what a Node.js process can do on this machine at this rate`
      : `so a Node.js proxy can meet the ≤ ${CPU_VS_NGINX_TARGET}× target on this machine only by staying within ${fmtRatio(CPU_VS_NGINX_TARGET / floorRatio)} of the floor`;
  const above =
    c.weft === undefined
      ? ''
      : ` One weft proxy uses ${fmtRatio(c.weft / c.floor)} the floor's CPU per request.`;
  return `What the Node.js floor says (same run, same schedule, same backend): a Node.js process that only relays bytes
between paired connections, parsing nothing, uses ${c.floor.toFixed(3)} CPU s per 1k requests at ${fmtInt(RATE)} req/s,
${fmtRatio(floorRatio)} nginx's ${c.nginx.toFixed(3)}, ${verdict}.${above}`;
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startNginxBackend(ctx, backendPort);
  const rows: Row[] = [];
  let node: NodeModeFigures | Error = new Error('not run');
  let burst: BurstFigures | Error = new Error('not run');
  try {
    const cp = await controlPlaneOrError(ctx);
    const weft = cp instanceof Error ? cp : { cp };
    try {
      for (const kind of PATHS)
        rows.push(...(await measure(ctx, kind, () => startPath(ctx, kind, backendPort, weft))));
      const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
      ctx.log('memory: weft node agent');
      node =
        cp instanceof Error
          ? cp
          : await nodeModeFootprint(ctx, cp, NODE_EXTRA_WORKLOADS, NODE_MESH_SERVICES).catch(asError);
      ctx.log('memory: client sidecar after a gRPC burst');
      const [burstS, afterS] = ctx.quick ? [3, 10] : [20, 10];
      burst = cp instanceof Error ? cp : await grpcBurstFootprint(ctx, cp, burstS, afterS).catch(asError);
    } finally {
      await stopControlPlane(cp);
    }
  } finally {
    await backend.stop();
  }
  rows.push(await bareNode(ctx));

  const table = markdownTable(
    [
      'proxy',
      'idle RSS MB',
      'of which private MB',
      `RSS MB at ${fmtInt(RATE)} req/s`,
      `CPU s / 1k req, first ${ctx.durations.openLoopS / 2} s at ${fmtInt(RATE)} req/s`,
      `CPU s / 1k req at ${fmtInt(RATE)} req/s`,
      `RSS MB under load (${CONNECTIONS} conns)`,
      'CPU s / 1k req under load',
      'req/s under load',
      'notes',
    ],
    rows.map((r) =>
      'failed' in r
        ? [r.role, ...dashes(8), `failed: ${r.failed}`]
        : 'reference' in r
          ? [r.role, fmtMB(r.reference.rss), fmtMB(r.reference.private), ...dashes(6), 'idle only']
          : [
              r.kind === 'weft-mesh' ? `${r.role} (mesh path)` : r.role,
              fmtMB(r.idle.rss),
              fmtMB(r.idle.private),
              fmtMB(Math.max(r.firstAtRate.peakRssBytes, r.atRate.peakRssBytes)),
              perThousand(r.firstAtRate),
              perThousand(r.atRate),
              fmtMB(r.saturated.peakRssBytes),
              perThousand(r.saturated),
              fmtInt(r.saturated.requestsPerSecond),
              r.notes.join('; '),
            ],
    ),
  );
  const weftRows = rows.filter(
    (r): r is ProxyFigures => !('failed' in r) && !('reference' in r) && r.kind.startsWith('weft'),
  );
  const worst = weftRows.length > 0 ? Math.max(...weftRows.map((r) => r.idle.rss)) : undefined;
  const largestPrivate = weftRows.reduce<ProxyFigures | undefined>(
    (a, r) => (a === undefined || r.idle.private > a.idle.private ? r : a),
    undefined,
  );
  const floor = rows.find((r): r is IdleReference => 'reference' in r);
  const footprint = footprintSection(
    { floor: floor?.reference, idleSidecar: largestPrivate?.idle, node, burst },
    ctx.durations.idleSettleS,
  );
  const checks = [
    check(
      'idle weft proxy ≤ 50 MB resident',
      worst,
      'at-most',
      IDLE_RSS_TARGET_BYTES,
      (v) => `largest idle weft proxy: ${fmtMB(v)} MB`,
      'no weft proxy was measured in this run',
    ),
  ];
  const cpu = cpuAtRate(rows);
  const cpuChecks = [
    check(
      `one weft proxy's CPU per 1k requests at ${fmtInt(RATE)} req/s ≤ ${CPU_VS_NGINX_TARGET}× nginx's`,
      cpu.weft !== undefined && cpu.nginx !== undefined ? cpu.weft / cpu.nginx : undefined,
      'at-most',
      CPU_VS_NGINX_TARGET,
      (v) => `${fmtRatio(v)}: ${cpu.weft!.toFixed(3)} vs ${cpu.nginx!.toFixed(3)} CPU s / 1k req`,
      'weft or nginx has no figure at this rate in this run',
    ),
  ];
  return `Each proxy in front of the nginx 1 KiB backend, one worker each. Idle RSS: ${ctx.durations.idleSettleS} s after it
answered its first requests. Then ${fmtInt(RATE)} req/s on a fixed schedule for ${ctx.durations.openLoopS / 2} s, measured apart ("first ${ctx.durations.openLoopS / 2} s": a
Node.js process spends part of it compiling its request path with V8's optimizing compiler), and at once another
${ctx.durations.openLoopS / 2} s at the same rate (the steady state a long-running proxy pays; at this rate
"CPU s per 1k requests" is also the share of a core the proxy uses: Istio quotes 0.2–0.5 vCPU per sidecar at
1,000 req/s), then \`wrk -t1 -c${CONNECTIONS}\` for ${ctx.durations.measureS} s. CPU is utime + stime from
\`/proc/PID/stat\` over the run; RSS is VmRSS sampled every 250 ms (peak shown), summed over a proxy's
processes (nginx's master and worker). In the mesh path both sidecars carry every request.
"of which private" is the idle RSS that belongs to that process alone (\`Private_Clean\` + \`Private_Dirty\` in
\`/proc/PID/smaps_rollup\`): what one more sidecar costs a machine; the rest of its RSS is pages it shares with
other processes, for a Node.js process chiefly the \`node\` executable's own code and data, which every Node.js
process on the machine maps once. The empty Node.js process shows that floor, measured the same way.

${table}

Targets (issue 8, then issue 20):
${targetLines([...checks, ...cpuChecks])}

${cpuFloorLines(cpu)}

${footprint}`;
}

export const benchmark: Benchmark = {
  name: 'memory',
  title: 'Proxy memory and CPU',
  tools: ['wrk', 'nginx', 'haproxy', 'h2load'],
  run,
};
