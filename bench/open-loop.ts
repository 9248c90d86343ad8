// Fixed-rate open loop (1,000 req/s, latency from the intended send time): latency the weft mesh path adds over direct.
import type { BenchContext, Benchmark } from './lib/context.ts';
import { startNginxBackend } from './lib/nginx.ts';
import { PATH_LABELS, type PathKind, type RunningPath, startPath } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { mergeReports, type RateClientReport, runRate } from './lib/rate.ts';
import { fmtDeltaMs, fmtInt, fmtMs, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import type { HopTransport } from './lib/weft.ts';
import { controlPlaneOrError, stopControlPlane } from './lib/weft.ts';

const RATE = 1000;
const CONNECTIONS = 50;
/** The weft paths between their references: a C proxy and the Node.js floor beside one weft proxy, a C mesh pair beside weft's. */
const PATHS: readonly PathKind[] = ['direct', 'nginx', 'node-floor', 'weft', 'haproxy-mesh', 'weft-mesh'];
/** Issue 20's bound on the mTLS mesh path's added p99 at this rate (ms). */
const MESH_P99_TARGET_MS = 1;

type Row =
  | {
      kind: PathKind;
      outcome: 'measured';
      report: RateClientReport;
      /** The path's first run after it started (no warm-up), apart from the rounds. */
      fresh: RateClientReport | undefined;
      transport?: HopTransport;
      notes: string[];
    }
  | { kind: PathKind; outcome: 'failed'; reason: string };

const fmtS = (s: number) => (Number.isInteger(s) ? String(s) : s.toFixed(1));

const PERCENTILES = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p99.9', 'p999'],
] as const;

/** Rounds per path: the paths take turns, so a noisy moment of the machine falls on all of them alike. */
const ROUNDS = 3;

/** One run of a path at RATE over CONNECTIONS. */
function measureOnce(ctx: BenchContext, path: RunningPath, warmupS: number, durationS: number) {
  return runRate(ctx, {
    port: path.port,
    host: path.host,
    path: '/',
    rate: RATE,
    warmupS,
    durationS,
    connections: CONNECTIONS,
  });
}

/**
 * Starts every path, measures each one's first seconds (fresh: JIT and connections cold), then
 * measures them in turns (ROUNDS rounds, each after a warm-up), merging each path's rounds.
 */
async function measureAll(
  ctx: BenchContext,
  starts: readonly { kind: PathKind; start: () => Promise<RunningPath> }[],
): Promise<Row[]> {
  const running: {
    kind: PathKind;
    path: RunningPath;
    fresh?: RateClientReport;
    reports: RateClientReport[];
  }[] = [];
  const failed = new Map<PathKind, string>();
  const reason = (err: unknown) => (err instanceof Error ? err.message.split('\n')[0] : String(err));
  const { openLoopWarmupS, openLoopFreshS, openLoopS } = ctx.durations;
  try {
    for (const { kind, start } of starts) {
      try {
        running.push({ kind, path: await start(), reports: [] });
      } catch (err) {
        failed.set(kind, reason(err));
      }
    }
    for (const r of running) {
      ctx.log(`open-loop: ${PATH_LABELS[r.kind]}, its first ${fmtS(openLoopFreshS)} s`);
      try {
        r.fresh = await measureOnce(ctx, r.path, 0, openLoopFreshS);
      } catch (err) {
        failed.set(r.kind, reason(err));
      }
    }
    for (let round = 1; round <= ROUNDS; round++)
      for (const r of running) {
        if (failed.has(r.kind)) continue;
        ctx.log(`open-loop: ${PATH_LABELS[r.kind]}, round ${round} of ${ROUNDS}`);
        try {
          r.reports.push(await measureOnce(ctx, r.path, openLoopWarmupS, openLoopS / ROUNDS));
        } catch (err) {
          failed.set(r.kind, reason(err));
        }
      }
  } finally {
    for (const r of running) await r.path.stop();
  }
  return starts.map(({ kind }): Row => {
    const why = failed.get(kind);
    if (why !== undefined) return { kind, outcome: 'failed', reason: why };
    const r = running.find((x) => x.kind === kind)!;
    return {
      kind,
      outcome: 'measured',
      report: mergeReports(r.reports),
      fresh: r.fresh,
      transport: r.path.transport,
      notes: r.path.notes,
    };
  });
}

function usable(row: Row | undefined): RateClientReport | undefined {
  return row?.outcome === 'measured' && row.report.errors === 0 && row.report.timedOut === 0
    ? row.report
    : undefined;
}

/** Short names of the paths for the prose. */
const PATH_SHORT: Partial<Record<PathKind, string>> = {
  direct: 'direct',
  nginx: 'nginx',
  'node-floor': 'Node.js floor',
  weft: 'weft',
  'haproxy-mesh': 'HAProxy mesh pair',
  'weft-mesh': 'weft mesh',
};

/**
 * What the references say this machine allows at this rate: the p99 that two C proxies with mTLS
 * between them add (the mesh target's floor on this machine), and what the least Node.js relay adds.
 */
function whatTheMachineAllows(rows: readonly Row[], direct: RateClientReport | undefined): string {
  const p99Added = (kind: PathKind) => {
    const r = usable(rows.find((x) => x.kind === kind));
    return r && direct ? (r.latencyUs.p99 - direct.latencyUs.p99) / 1000 : undefined;
  };
  const c = p99Added('haproxy-mesh');
  const floor = p99Added('node-floor');
  const lines = [
    'What the references say about this machine (same rounds, same backend):',
    c === undefined
      ? '- the HAProxy mTLS mesh pair has no error-free figure in this run'
      : `- two C proxies with mTLS between them (HAProxy, one thread each) add ${fmtDeltaMs(c)} ms at p99: ${
          c > MESH_P99_TARGET_MS
            ? `the ≤ ${MESH_P99_TARGET_MS} ms mesh target is below what a mesh hop of C proxies achieves on this machine in this run`
            : `a mesh hop of C proxies fits in the ≤ ${MESH_P99_TARGET_MS} ms mesh target on this machine in this run`
        }`,
    floor === undefined
      ? '- the Node.js floor has no error-free figure in this run'
      : `- the Node.js floor (one process relaying bytes, no HTTP: the least a Node.js proxy does per request) adds ${fmtDeltaMs(floor)} ms at p99 for one hop`,
  ];
  return lines.join('\n');
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend = await startNginxBackend(ctx, backendPort);
  const rows: Row[] = [];
  try {
    const cp = await controlPlaneOrError(ctx);
    const weft = cp instanceof Error ? cp : { cp };
    try {
      rows.push(
        ...(await measureAll(
          ctx,
          (ctx.reference ? [...PATHS, 'weft-reference' as const] : PATHS).map((kind) => ({
            kind,
            start: () => startPath(ctx, kind, backendPort, weft),
          })),
        )),
      );
    } finally {
      await stopControlPlane(cp);
    }
  } finally {
    await backend.stop();
  }

  const ms = (us: number) => us / 1000;
  const latencyTable = markdownTable(
    [
      'path',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'achieved req/s',
      'errors',
      'generator lag p99 ms',
    ],
    rows.map((r) => {
      const label =
        PATH_LABELS[r.kind] + (r.outcome === 'measured' && r.transport ? ` (${r.transport})` : '');
      if (r.outcome === 'failed') return [label, '—', '—', '—', '—', '—', '—', `failed: ${r.reason}`, '—'];
      const l = r.report.latencyUs;
      const errors = r.report.errors + r.report.timedOut;
      return [
        label,
        fmtMs(ms(l.p50)),
        fmtMs(ms(l.p90)),
        fmtMs(ms(l.p99)),
        fmtMs(ms(l.p999)),
        fmtMs(ms(l.max)),
        fmtInt(r.report.achievedRate),
        errors === 0 ? '0' : `${fmtInt(r.report.errors)} failed, ${fmtInt(r.report.timedOut)} timed out`,
        fmtMs(ms(r.report.scheduleLagUs.p99)),
      ];
    }),
  );
  const direct = usable(rows.find((r) => r.kind === 'direct'));
  const addedRows = rows
    .filter((r) => r.kind !== 'direct')
    .map((r) => {
      const report = usable(r);
      const label = PATH_LABELS[r.kind];
      if (!report || !direct) return [label, '—', '—', '—', '—'];
      return [
        label,
        ...PERCENTILES.map(([, key]) => fmtDeltaMs(ms(report.latencyUs[key] - direct.latencyUs[key]))),
      ];
    });
  const addedTable = markdownTable(['path', ...PERCENTILES.map(([p]) => `${p} added ms`)], addedRows);

  const directFresh = rows.find((r) => r.kind === 'direct');
  const freshBase = directFresh?.outcome === 'measured' ? directFresh.fresh : undefined;
  const freshTable = markdownTable(
    ['path', 'p50 ms', 'p99 ms', 'max ms', 'p99 added ms', 'errors'],
    rows.map((r) => {
      const label = PATH_LABELS[r.kind];
      const f = r.outcome === 'measured' ? r.fresh : undefined;
      if (!f) return [label, '—', '—', '—', '—', r.outcome === 'failed' ? `failed: ${r.reason}` : '—'];
      const errors = f.errors + f.timedOut;
      return [
        label,
        fmtMs(ms(f.latencyUs.p50)),
        fmtMs(ms(f.latencyUs.p99)),
        fmtMs(ms(f.latencyUs.max)),
        r.kind === 'direct' || !freshBase ? '—' : fmtDeltaMs(ms(f.latencyUs.p99 - freshBase.latencyUs.p99)),
        errors === 0 ? '0' : `${fmtInt(f.errors)} failed, ${fmtInt(f.timedOut)} timed out`,
      ];
    }),
  );

  const meshRow = rows.find((r) => r.kind === 'weft-mesh');
  const mesh = usable(meshRow);
  const transport = meshRow?.outcome === 'measured' ? meshRow.transport : undefined;
  const qualifier =
    transport === 'mTLS'
      ? ''
      : ` (judged on a hop that is ${transport ?? 'unknown'}, not the mTLS the target assumes)`;
  const added = (key: 'p50' | 'p99') =>
    mesh && direct ? ms(mesh.latencyUs[key] - direct.latencyUs[key]) : undefined;
  const checks = [
    check(
      `mesh path p50 added ≤ 0.5 ms at ${fmtInt(RATE)} req/s${qualifier}`,
      added('p50'),
      'at-most',
      0.5,
      (v) => `${fmtDeltaMs(v)} ms`,
      'the mesh path or direct has no error-free figure in this run',
    ),
    check(
      `mesh path p99 added ≤ 2 ms at ${fmtInt(RATE)} req/s${qualifier}`,
      added('p99'),
      'at-most',
      2,
      (v) => `${fmtDeltaMs(v)} ms`,
      'the mesh path or direct has no error-free figure in this run',
    ),
  ];
  checks.push(
    check(
      `mesh path p99 added ≤ ${MESH_P99_TARGET_MS} ms at ${fmtInt(RATE)} req/s (issue 20)${qualifier}`,
      added('p99'),
      'at-most',
      MESH_P99_TARGET_MS,
      (v) => `${fmtDeltaMs(v)} ms`,
      'the mesh path or direct has no error-free figure in this run',
    ),
  );
  const proxy = usable(rows.find((r) => r.kind === 'weft'));
  const reference = usable(rows.find((r) => r.kind === 'weft-reference'));
  if (ctx.reference)
    checks.push(
      check(
        `no regression: one weft proxy's p99 ≤ the reference commit's + 0.1 ms (${ctx.reference.commit}, same rounds)`,
        proxy && ms(proxy.latencyUs.p99),
        'at-most',
        reference && ms(reference.latencyUs.p99) + 0.1,
        (v) => `${fmtMs(v)} vs ${fmtMs(ms(reference!.latencyUs.p99))} ms`,
        'weft or the reference has no error-free figure in this run',
      ),
    );
  const notes = rows.flatMap((r) =>
    r.outcome === 'measured' ? r.notes.map((n) => `${PATH_LABELS[r.kind]}: ${n}`) : [],
  );

  return `${fmtInt(RATE)} requests per second on a fixed schedule over ${CONNECTIONS} keep-alive connections; backend: the
same nginx 1 KiB body. All paths are started first. Each path's first ${fmtS(ctx.durations.openLoopFreshS)} s of traffic are measured on their own
(last table: a fresh proxy opens its connections and compiles its request path then). Then the paths are measured in turns, ${ROUNDS} rounds (${PATHS.map((k) => PATH_SHORT[k]).join(', ')},
direct, ...), each run ${ctx.durations.openLoopWarmupS} s of warm-up (not recorded: a sidecar's JIT optimizes its request path over ~8 s of traffic,
and again after the pause between rounds, [design/tail-latency.md](design/tail-latency.md)) then ${fmtS(ctx.durations.openLoopS / ROUNDS)} s recorded, so that a noisy
moment of the machine falls on every path alike rather than on one row; each row's percentiles come from the merged
histogram of its ${ROUNDS} runs (${ctx.durations.openLoopS} s, ~${fmtInt(RATE * ctx.durations.openLoopS)} requests). The generator (\`bench/lib/rate-client.ts\`) measures each request from the time it was
*due* to be sent, not from when it went out, so a stall counts for every request it delays (no coordinated
omission); percentiles come from an HdrHistogram (3 significant digits). "generator lag" is how late the
generator itself got to requests after their due time (its timer and event loop, slowed when the machine is
busy); it is part of every figure, as it should be. When it is large in one row only, the generator was starved
of CPU during that row (a busy machine), which says more about the machine than about the path. Time waiting
for a free connection is not in it.

${latencyTable}

Latency added over direct (difference of the percentiles):

${addedTable}
${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
Targets (issue 8, then issue 20; Istio publishes +0.23 ms p90 and +0.30 ms p99 for its two sidecars at 1,000 req/s):
${targetLines(checks)}

${whatTheMachineAllows(rows, direct)}

Each path's first ${fmtS(ctx.durations.openLoopFreshS)} s after it started, before the rounds (no warm-up; shown, not judged; "p99 added" is
over direct's first ${fmtS(ctx.durations.openLoopFreshS)} s):

${freshTable}`;
}

export const benchmark: Benchmark = {
  name: 'open-loop',
  title: 'Added latency at a fixed rate (open loop)',
  tools: ['nginx'],
  run,
};
