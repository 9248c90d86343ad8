// HTTP/1.1, 1 KiB responses, 50 connections, closed loop (wrk -t1 -c50): weft beside direct, nginx, HAProxy and a Node peer.
import type { BenchContext, Benchmark } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { PATH_LABELS, type PathKind, type RunningPath, startPath } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { ResourceSampler } from './lib/procfs.ts';
import { fmtInt, fmtMs, fmtRatio, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import { controlPlaneOrError, multiCoreFlag, proxyHelp, stopControlPlane } from './lib/weft.ts';
import { runWrk, type WrkResult, wrkErrors } from './lib/wrk.ts';

const CONNECTIONS = 50;

/** One row of the table: a measured path, or why it has no figures. */
type Row =
  | {
      kind: PathKind;
      label: string;
      outcome: 'measured';
      result: WrkResult;
      /** CPU seconds all proxy processes of the path used per 1,000 requests (undefined: no proxy). */
      cpuPer1k?: number;
      notes: string[];
    }
  | { kind: PathKind; label: string; outcome: 'failed' | 'not available'; reason: string };

/** Warm-up then measured wrk run against a path that is already up; the proxies' CPU is read over the measured run. */
async function load(ctx: BenchContext, path: RunningPath): Promise<{ result: WrkResult; cpuPer1k?: number }> {
  const options = {
    bin: ctx.tools.wrk!,
    url: `http://127.0.0.1:${path.port}/`,
    connections: CONNECTIONS,
    threads: 1,
    durationS: ctx.durations.measureS,
    headers: path.host ? { Host: path.host } : undefined,
  };
  await runWrk(options, ctx.durations.warmupS);
  const samplers = path.proxies.map((p) => new ResourceSampler(p.child.pid));
  const result = await runWrk(options);
  const cpu = samplers.reduce((sum, s) => sum + s.stop().cpuSeconds, 0);
  return {
    result,
    cpuPer1k: samplers.length > 0 && result.requests > 0 ? (cpu / result.requests) * 1000 : undefined,
  };
}

async function measure(ctx: BenchContext, kind: PathKind, start: () => Promise<RunningPath>): Promise<Row> {
  const label = PATH_LABELS[kind];
  ctx.log(`http1: ${label}`);
  let path: RunningPath | undefined;
  try {
    path = await start();
    const { result, cpuPer1k } = await load(ctx, path);
    const notes = [...path.notes];
    if (path.transport) notes.unshift(`hop: ${path.transport}`);
    const errors = wrkErrors(result);
    if (errors > 0) notes.push(`${fmtInt(errors)} failed requests`);
    return { kind, label: path.label, outcome: 'measured', result, cpuPer1k, notes };
  } catch (err) {
    return {
      kind,
      label,
      outcome: 'failed',
      reason: err instanceof Error ? err.message.split('\n')[0] : String(err),
    };
  } finally {
    await path?.stop();
  }
}

/** A figure counts only when the run had no failed requests. */
function valid(row: Row | undefined): WrkResult | undefined {
  return row?.outcome === 'measured' && wrkErrors(row.result) === 0 ? row.result : undefined;
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startNginxBackend(ctx, backendPort);
  const cp = await controlPlaneOrError(ctx);
  const weftOptions = cp instanceof Error ? cp : { cp };
  const rows: Row[] = [];
  let multiCore: string | undefined;
  try {
    const kinds: PathKind[] = ['direct', 'nginx', 'haproxy', 'node-peer', 'weft', 'weft-mesh'];
    if (ctx.reference) kinds.push('weft-reference');
    for (const kind of kinds)
      rows.push(await measure(ctx, kind, () => startPath(ctx, kind, backendPort, weftOptions)));
    const flag = multiCoreFlag(await proxyHelp(ctx));
    if (flag) {
      multiCore = `${flag.flag} ${ctx.cores}`;
      rows.push(
        await measure(ctx, 'weft-multicore', () =>
          startPath(
            ctx,
            'weft-multicore',
            backendPort,
            cp instanceof Error ? cp : { cp, extraArgs: [flag.flag, String(ctx.cores)] },
          ),
        ),
      );
    } else
      rows.push({
        kind: 'weft-multicore',
        label: PATH_LABELS['weft-multicore'],
        outcome: 'not available',
        reason: '`weft proxy --help` offers no workers/concurrency flag in this build',
      });
  } finally {
    await stopControlPlane(cp);
    await backend.stop();
  }

  const table = markdownTable(
    ['path', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU s / 1k req', 'notes'],
    rows.map((r) =>
      r.outcome === 'measured'
        ? [
            r.label + (r.kind === 'weft-multicore' && multiCore ? ` (${multiCore})` : ''),
            fmtInt(r.result.requestsPerSecond),
            fmtMs(r.result.latencyMs.p50),
            fmtMs(r.result.latencyMs.p99),
            r.cpuPer1k === undefined ? '—' : r.cpuPer1k.toFixed(3),
            r.notes.join('; '),
          ]
        : [r.label, '—', '—', '—', '—', `${r.outcome}: ${r.reason}`],
    ),
  );
  const get = (kind: PathKind) => valid(rows.find((r) => r.kind === kind));
  const weft = get('weft');
  const nginx = get('nginx');
  const peer = get('node-peer');
  const reference = get('weft-reference');
  const checks = [
    check(
      'one weft proxy ≥ 0.5× nginx req/s',
      weft?.requestsPerSecond,
      'at-least',
      nginx && nginx.requestsPerSecond * 0.5,
      (v, bound) =>
        `weft ${fmtInt(v)} req/s = ${fmtRatio(v / nginx!.requestsPerSecond)} nginx's ${fmtInt(nginx!.requestsPerSecond)}; needs ≥ ${fmtInt(bound)}`,
      'weft or nginx has no valid figure in this run',
    ),
    check(
      'one weft proxy ≥ 1.5× the Node peer req/s',
      weft?.requestsPerSecond,
      'at-least',
      peer && peer.requestsPerSecond * 1.5,
      (v, bound) =>
        `weft ${fmtInt(v)} req/s = ${fmtRatio(v / peer!.requestsPerSecond)} the Node peer's ${fmtInt(peer!.requestsPerSecond)}; needs ≥ ${fmtInt(bound)}`,
      'weft or the Node peer has no valid figure in this run',
    ),
  ];
  if (ctx.reference)
    checks.push(
      check(
        `no regression: one weft proxy ≥ 0.95× the reference commit's req/s (${ctx.reference.commit}, same run)`,
        weft?.requestsPerSecond,
        'at-least',
        reference && reference.requestsPerSecond * 0.95,
        (v, bound) =>
          `${fmtInt(v)} vs ${fmtInt(reference!.requestsPerSecond)} req/s = ${fmtRatio(v / reference!.requestsPerSecond)}; needs ≥ ${fmtInt(bound)}`,
        'weft or the reference has no valid figure in this run',
      ),
    );
  return `Backend: nginx (1 worker) returning a fixed 1 KiB body. Client: \`wrk -t1 -c${CONNECTIONS} --latency\`,
${ctx.durations.warmupS} s warm-up (discarded) then ${ctx.durations.measureS} s measured, per row. Every proxy runs one
worker (nginx \`worker_processes 1\`, HAProxy \`nbthread 1\`, one Node process); weft's multi-core mode is a
separate row, with one worker per core of the machine${
    ctx.cores <= 2
      ? ` (on this ${ctx.cores}-core machine wrk and the backend need the same cores, so it cannot show how the mode scales)`
      : ''
  }. wrk is a closed-loop client: its latency figures hide coordinated omission (see the open-loop
section for latency that does not). "proxy CPU s / 1k req" is the CPU time (user + system, from \`/proc\`) of
all proxy processes on the path during the measured run per 1,000 requests: on a shared machine it moves
less than req/s, which depends on what else competes for the cores.

${table}

Targets (issue 8):
${targetLines(checks)}`;
}

export const benchmark: Benchmark = {
  name: 'http1',
  title: 'HTTP/1.1 throughput and latency, closed loop',
  tools: ['wrk', 'nginx', 'haproxy'],
  run,
};
