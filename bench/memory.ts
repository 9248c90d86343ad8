// Proxy resources: resident memory idle and under load, CPU seconds per 1,000 requests (at 1,000 req/s and saturated).
import type { BenchContext, Benchmark } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { PATH_LABELS, type PathKind, type RunningPath, startPath } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { processTree, ResourceSampler, type ResourceUse, rssBytes } from './lib/procfs.ts';
import { runRate } from './lib/rate.ts';
import { fmtInt, fmtMB, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import { controlPlaneOrError, stopControlPlane } from './lib/weft.ts';
import { runWrk, wrkErrors } from './lib/wrk.ts';

const RATE = 1000;
const CONNECTIONS = 50;
const PATHS: readonly PathKind[] = ['weft', 'weft-mesh', 'nginx', 'haproxy', 'node-peer'];
const IDLE_RSS_TARGET_BYTES = 50e6;

/** Figures of one proxy process (a path may have two: the mesh's sidecars). */
interface ProxyFigures {
  role: string;
  kind: PathKind;
  idleRssBytes: number;
  /** During the fixed-rate run. */
  atRate: ResourceUse & { requests: number };
  /** During the closed-loop run. */
  saturated: ResourceUse & { requests: number; requestsPerSecond: number };
  notes: string[];
}

type Row = ProxyFigures | { kind: PathKind; role: string; failed: string };

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
    const idle = path.proxies.map((p) => rssBytes(processTree(p.child.pid)));

    let sampling = samplers(path);
    const rate = await runRate(ctx, {
      port: path.port,
      host: path.host,
      path: '/',
      rate: RATE,
      warmupS: 0,
      durationS: ctx.durations.openLoopS / 2,
      connections: CONNECTIONS,
    });
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
    if (rate.errors + rate.timedOut > 0)
      notes.push(`${rate.errors + rate.timedOut} failed requests at ${RATE} req/s`);
    if (wrkErrors(loaded) > 0) notes.push(`${wrkErrors(loaded)} failed requests under wrk`);
    return path.proxies.map((p, i) => ({
      role: p.role,
      kind,
      idleRssBytes: idle[i],
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

const perThousand = (u: ResourceUse & { requests: number }) =>
  u.requests > 0 ? ((u.cpuSeconds / u.requests) * 1000).toFixed(3) : '—';

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startNginxBackend(ctx, backendPort);
  const rows: Row[] = [];
  try {
    const cp = await controlPlaneOrError(ctx);
    const weft = cp instanceof Error ? cp : { cp };
    try {
      for (const kind of PATHS)
        rows.push(...(await measure(ctx, kind, () => startPath(ctx, kind, backendPort, weft))));
    } finally {
      await stopControlPlane(cp);
    }
  } finally {
    await backend.stop();
  }

  const table = markdownTable(
    [
      'proxy',
      'idle RSS MB',
      `RSS MB at ${fmtInt(RATE)} req/s`,
      `CPU s / 1k req at ${fmtInt(RATE)} req/s`,
      `RSS MB under load (${CONNECTIONS} conns)`,
      'CPU s / 1k req under load',
      'req/s under load',
      'notes',
    ],
    rows.map((r) =>
      'failed' in r
        ? [r.role, '—', '—', '—', '—', '—', '—', `failed: ${r.failed}`]
        : [
            r.kind === 'weft-mesh' ? `${r.role} (mesh path)` : r.role,
            fmtMB(r.idleRssBytes),
            fmtMB(r.atRate.peakRssBytes),
            perThousand(r.atRate),
            fmtMB(r.saturated.peakRssBytes),
            perThousand(r.saturated),
            fmtInt(r.saturated.requestsPerSecond),
            r.notes.join('; '),
          ],
    ),
  );
  const weftRows = rows.filter((r): r is ProxyFigures => !('failed' in r) && r.kind.startsWith('weft'));
  const worst = weftRows.length > 0 ? Math.max(...weftRows.map((r) => r.idleRssBytes)) : undefined;
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
  return `Each proxy in front of the nginx 1 KiB backend, one worker each. Idle RSS: ${ctx.durations.idleSettleS} s after it
answered its first requests. Then ${fmtInt(RATE)} req/s on a fixed schedule for ${ctx.durations.openLoopS / 2} s (at this rate
"CPU s per 1k requests" is also the share of a core the proxy uses: Istio quotes 0.2–0.5 vCPU per sidecar at
1,000 req/s), then \`wrk -t1 -c${CONNECTIONS}\` for ${ctx.durations.measureS} s. CPU is utime + stime from
\`/proc/PID/stat\` over the run; RSS is VmRSS sampled every 250 ms (peak shown), summed over a proxy's
processes (nginx's master and worker). In the mesh path both sidecars carry every request.

${table}

Targets (issue 8):
${targetLines(checks)}`;
}

export const benchmark: Benchmark = {
  name: 'memory',
  title: 'Proxy memory and CPU',
  tools: ['wrk', 'nginx', 'haproxy'],
  run,
};
