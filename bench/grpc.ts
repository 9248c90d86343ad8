// gRPC unary (h2load) and bidirectional streaming (grpc-js) through the weft mesh path versus direct, with mesh hops of two HAProxy and two nginx as C references.
import { join } from 'node:path';
import { type BenchContext, type Benchmark, REPO } from './lib/context.ts';
import { probeUnary } from './lib/echo.ts';
import {
  type CpuPer1k,
  type GrpcTarget,
  H2LOAD,
  type Measured,
  PAYLOAD_BYTES,
  reason,
  STREAMING,
  streaming,
  unary,
} from './lib/grpc-load.ts';
import type { StreamClientReport } from './lib/grpc-stream-client.ts';
import type { H2loadResult } from './lib/h2load.ts';
import { startHaproxyMesh } from './lib/haproxy-mesh.ts';
import { startNginxGrpcMesh } from './lib/nginx-grpc-mesh.ts';
import { startMesh } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { type Child, startChild } from './lib/processes.ts';
import { fmtInt, fmtMs, fmtRatio, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import { type ControlPlane, controlPlaneOrError, stopControlPlane, waitUntil } from './lib/weft.ts';

const SERVICE_PORT = 50051;
/** The latency probe: one stream, one message in flight (what a hop adds when nothing queues). */
const ONE_IN_FLIGHT = { streams: 1, window: 1 };

/** What one path gave. */
interface PathFigures {
  label: string;
  unary: Measured<H2loadResult>;
  stream: Measured<StreamClientReport>;
  single: Measured<StreamClientReport>;
  notes: string[];
}

function failedPath(label: string, outcome: 'failed' | 'not supported', why: string): PathFigures {
  const m = { outcome, reason: why };
  return { label, unary: m, stream: m, single: m, notes: [] };
}

/** The three loads against one running path; `what` names it in progress lines. */
async function loads(
  ctx: BenchContext,
  label: string,
  target: GrpcTarget,
  notes: string[],
): Promise<PathFigures> {
  const works = await waitUntil(() => probeUnary(target.port, target.authority, PAYLOAD_BYTES), 20_000);
  if (works.outcome === 'timed-out')
    return failedPath(label, 'not supported', `a unary call through this path fails (${works.last})`);
  ctx.log(`grpc: ${label}: unary`);
  const u = await unary(ctx, target);
  ctx.log(`grpc: ${label}: streaming`);
  const s = await streaming(ctx, target);
  ctx.log(`grpc: ${label}: one message in flight`);
  const one = await streaming(ctx, target, {
    ...ONE_IN_FLIGHT,
    durationS: Math.min(5, ctx.durations.measureS),
  });
  return { label, unary: u, stream: s, single: one, notes };
}

/** The weft mesh path of `bin` (default: this checkout). Never throws: failures become rows. */
async function weftMesh(
  ctx: BenchContext,
  cp: ControlPlane | Error,
  backend: GrpcTarget['backend'],
  label: string,
  bin?: string,
): Promise<PathFigures> {
  try {
    if (cp instanceof Error) throw cp;
    const mesh = await startMesh(ctx, { cp, bin }, backend.port, {
      protocol: 'grpc',
      servicePort: SERVICE_PORT,
    });
    try {
      const target = {
        port: mesh.port,
        authority: `${mesh.service}:${SERVICE_PORT}`,
        proxies: mesh.proxies,
        backend,
      };
      return await loads(
        ctx,
        `${label} (client sidecar → server sidecar, ${mesh.transport})`,
        target,
        mesh.notes,
      );
    } finally {
      await mesh.stop();
    }
  } catch (err) {
    return failedPath(label, 'failed', reason(err));
  }
}

/** A C reference pair (`tool` installed), mTLS between its two proxies. */
async function cMesh(
  ctx: BenchContext,
  backend: GrpcTarget['backend'],
  tool: 'nginx' | 'haproxy',
): Promise<PathFigures> {
  const label =
    tool === 'nginx'
      ? 'reference: two nginx (grpc_pass, HTTP/2, mTLS between them)'
      : 'reference: two HAProxy (HTTP/2 both sides, mTLS between them)';
  if (!ctx.tools[tool]) return failedPath(label, 'not supported', `${tool} is not installed`);
  try {
    const pair =
      tool === 'nginx'
        ? await startNginxGrpcMesh(ctx, backend.port)
        : await startHaproxyMesh(ctx, backend.port, true);
    try {
      return await loads(ctx, label, { port: pair.port, proxies: pair.proxies, backend }, []);
    } finally {
      for (const p of pair.proxies) await p.child.stop();
    }
  } catch (err) {
    return failedPath(label, 'failed', reason(err));
  }
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const child: Child = await startChild({
    name: 'grpc-echo',
    command: ctx.node,
    args: [join(REPO, 'bench', 'lib', 'grpc-echo-server.ts'), String(backendPort)],
    readyLine: /grpc-echo ready/,
  });
  const backend = { port: backendPort, pid: child.pid };
  const paths: PathFigures[] = [];
  try {
    paths.push(await loads(ctx, 'direct', { port: backendPort, proxies: [], backend }, []));
    const cp = await controlPlaneOrError(ctx);
    try {
      paths.push(await weftMesh(ctx, cp, backend, 'weft mesh path'));
      if (ctx.reference)
        paths.push(
          await weftMesh(
            ctx,
            cp,
            backend,
            `weft mesh path at ${ctx.reference.commit}`,
            join(ctx.reference.root, 'bin', 'weft.js'),
          ),
        );
    } finally {
      await stopControlPlane(cp);
    }
    paths.push(await cMesh(ctx, backend, 'haproxy'));
    paths.push(await cMesh(ctx, backend, 'nginx'));
  } finally {
    await child.stop();
  }
  return section(ctx, paths);
}

/** "0.123 (client 0.045, server 0.040)": every process of the path per 1k. */
function allCell(cpu: CpuPer1k | undefined): string {
  return cpu
    ? `${cpu.total.toFixed(3)} (client ${cpu.client.toFixed(3)}, server ${cpu.server.toFixed(3)})`
    : '—';
}

function proxyCell(cpu: CpuPer1k | undefined): string {
  return cpu?.proxies === undefined ? '—' : cpu.proxies.toFixed(3);
}

function tables(paths: PathFigures[]): string {
  const [direct] = paths;
  const du = direct.unary.outcome === 'measured' ? direct.unary.value : undefined;
  const ds = direct.stream.outcome === 'measured' ? direct.stream.value : undefined;
  const d1 = direct.single.outcome === 'measured' ? direct.single.value : undefined;
  const cpuHeads = ['proxies CPU s per 1k', 'all processes CPU s per 1k'];
  const unaryRows = paths.map(({ label, unary: m }) =>
    m.outcome === 'measured'
      ? [
          label,
          fmtInt(m.value.requestsPerSecond),
          fmtMs(m.value.meanMs),
          du ? fmtRatio(m.value.requestsPerSecond / du.requestsPerSecond) : '—',
          proxyCell(m.cpu),
          allCell(m.cpu),
          m.note ?? '',
        ]
      : [label, '—', '—', '—', '—', '—', `${m.outcome}: ${m.reason}`],
  );
  const streamRows = paths.map(({ label, stream: m }) =>
    m.outcome === 'measured'
      ? [
          label,
          fmtInt(m.value.messagesPerSecond),
          fmtMs(m.value.rttUs.p50 / 1000),
          fmtMs(m.value.rttUs.p99 / 1000),
          ds ? fmtRatio(m.value.messagesPerSecond / ds.messagesPerSecond) : '—',
          proxyCell(m.cpu),
          allCell(m.cpu),
          m.note ?? '',
        ]
      : [label, '—', '—', '—', '—', '—', '—', `${m.outcome}: ${m.reason}`],
  );
  const singleRows = paths.map(({ label, single: m }) =>
    m.outcome === 'measured'
      ? [
          label,
          fmtMs(m.value.rttUs.p50 / 1000),
          fmtMs(m.value.rttUs.p99 / 1000),
          d1 && m !== direct.single ? `+${fmtMs((m.value.rttUs.p50 - d1.rttUs.p50) / 1000)}` : '—',
          m.note ?? '',
        ]
      : [label, '—', '—', '—', `${m.outcome}: ${m.reason}`],
  );
  return [
    markdownTable(['unary (h2load)', 'calls/s', 'mean ms', 'vs direct', ...cpuHeads, 'notes'], unaryRows),
    markdownTable(
      ['bidi streaming (grpc-js)', 'messages/s', 'p50 ms', 'p99 ms', 'vs direct', ...cpuHeads, 'notes'],
      streamRows,
    ),
    markdownTable(
      ['one message in flight (grpc-js)', 'p50 ms', 'p99 ms', 'added p50 ms', 'notes'],
      singleRows,
    ),
  ].join('\n\n');
}

/**
 * What the CPU allows: cores ÷ all processes' CPU per message (or call), for each path with a figure, and
 * that rate as a share of direct's own (direct is CPU-bound on a quiet machine, so this share is the most
 * the path can reach beside it) and of direct's measured rate.
 */
function ceilings(paths: PathFigures[], cores: number): string[] {
  const most = (cpu: CpuPer1k | undefined) => (cpu ? (cores / cpu.total) * 1000 : undefined);
  const [direct] = paths;
  const dStream = direct.stream.outcome === 'measured' ? direct.stream : undefined;
  const dUnary = direct.unary.outcome === 'measured' ? direct.unary : undefined;
  const dMost = most(dStream?.cpu);
  const dUnaryMost = most(dUnary?.cpu);
  const lines: string[] = [];
  for (const { label, stream, unary: u } of paths) {
    if (stream.outcome !== 'measured' || !stream.cpu) continue;
    const m = most(stream.cpu)!;
    const shares = [
      dMost && stream !== dStream ? `${fmtRatio(m / dMost)} of direct's` : '',
      dStream
        ? `${fmtRatio(m / dStream.value.messagesPerSecond)} of direct's measured ${fmtInt(dStream.value.messagesPerSecond)}`
        : '',
    ].filter((x) => x !== '');
    const um = u.outcome === 'measured' ? most(u.cpu) : undefined;
    const calls =
      um === undefined
        ? ''
        : `; unary ${fmtInt(um)} calls/s${dUnaryMost && u !== dUnary ? ` (${fmtRatio(um / dUnaryMost)} of direct's)` : ''}`;
    lines.push(`- ${label}: ${fmtInt(m)} messages/s (${shares.join('; ')})${calls}`);
  }
  return lines;
}

function section(ctx: BenchContext, paths: PathFigures[]): string {
  const [direct, mesh] = paths;
  const valid = <T>(m: Measured<T>) =>
    m.outcome === 'measured' && m.note === undefined ? m.value : undefined;
  const du = valid(direct.unary);
  const ds = valid(direct.stream);
  const mu = valid(mesh.unary);
  const ms = valid(mesh.stream);
  const checks = [
    check(
      'gRPC unary through the mesh path ≥ 0.5× direct calls/s',
      mu?.requestsPerSecond,
      'at-least',
      du && du.requestsPerSecond * 0.5,
      (v) => `${fmtInt(v)} calls/s = ${fmtRatio(v / du!.requestsPerSecond)} direct`,
      'the mesh or the direct row has no valid figure in this run',
    ),
    check(
      'gRPC bidi streaming through the mesh path ≥ 0.8× direct messages/s',
      ms?.messagesPerSecond,
      'at-least',
      ds && ds.messagesPerSecond * 0.8,
      (v) => `${fmtInt(v)} messages/s = ${fmtRatio(v / ds!.messagesPerSecond)} direct`,
      'the mesh or the direct row has no valid figure in this run',
    ),
  ];
  const notes = paths.flatMap((p) => p.notes);
  const bounds = ceilings(paths, ctx.cores);
  return `Backend: a grpc-js server (\`bench/lib/grpc-echo-server.ts\`) echoing ${PAYLOAD_BYTES}-byte messages; server
sidecar declared \`--protocol grpc --service-port ${SERVICE_PORT}\`, clients send \`:authority\` = the service
name. Unary: \`h2load -t1 -c${H2LOAD.clients} -m${H2LOAD.streams}\` (h2c, ${H2LOAD.clients * H2LOAD.streams} calls in flight), ${ctx.durations.warmupS} s
warm-up then ${ctx.durations.measureS} s; h2load reports only the mean latency, and counts HTTP 200s, so the backend's own
count of answered calls is checked against it. Streaming: a grpc-js client (\`bench/lib/grpc-stream-client.ts\`)
with ${STREAMING.streams} bidirectional streams, ${STREAMING.window} messages in flight on each; then one stream with one message
in flight, whose round trip is what the hops add when nothing queues. The references are mesh hops written in C,
one process and thread each, the first taking h2c from the client and passing it over TLS 1.3 with a client
certificate (P-256, made by the bench) to the second, which verifies it and passes h2c to the backend: two HAProxy
(\`bench/lib/haproxy-mesh.ts\`; HTTP/2 on every connection, streams multiplexed as weft does) and two nginx
(\`bench/lib/nginx-grpc-mesh.ts\`; \`grpc_pass\`, which gives every stream its own upstream connection).
CPU is utime + stime from \`/proc\` over the whole load run (warm-up included) divided by the calls or messages the
backend answered meanwhile: "proxies" is both proxy processes together; "all processes" adds the load generator
(h2load, or the grpc-js client's own CPU over its measured window) and the backend. At 1,000 calls/s, 0.1 s per 1k is
a tenth of a core. It depends on the machine's load far less than calls/s, which is bounded by how often four
processes get one of the ${ctx.cores} cores.

${tables(paths)}
${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}${bounds.length > 0 ? `\nWhat the CPU allows on ${ctx.cores} cores (cores ÷ all processes' CPU per message: the rate of a path that kept every core busy). On a quiet machine direct runs at its own such rate (the client and the backend each keep a core busy), so a path's share of direct's rate is the most it can reach beside direct here, whatever its scheduling:\n${bounds.join('\n')}\n` : ''}
Targets (issue 20; judged on a quiet machine, three runs):
${targetLines(checks)}
`;
}

export const benchmark: Benchmark = {
  name: 'grpc',
  title: 'gRPC through the mesh path',
  tools: ['h2load'],
  run,
};
