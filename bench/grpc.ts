// gRPC unary (h2load) and bidirectional streaming (grpc-js) through the weft mesh path versus direct.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, type Benchmark, REPO } from './lib/context.ts';
import { probeUnary, servedCounts, UNARY_PATH, unaryRequestFrame } from './lib/echo.ts';
import type { StreamClientConfig, StreamClientReport } from './lib/grpc-stream-client.ts';
import { type H2loadResult, runH2load } from './lib/h2load.ts';
import { type ProxyProcess, startMesh } from './lib/paths.ts';
import { freePort } from './lib/ports.ts';
import { type Child, runCommand, startChild } from './lib/processes.ts';
import { ResourceSampler } from './lib/procfs.ts';
import { fmtInt, fmtMs, fmtRatio, markdownTable } from './lib/table.ts';
import { check, targetLines } from './lib/targets.ts';
import { controlPlaneOrError, type HopTransport, stopControlPlane, waitUntil } from './lib/weft.ts';

const PAYLOAD_BYTES = 128;
const SERVICE_PORT = 50051;
const H2LOAD = { clients: 10, streams: 10 };
const STREAMING = { streams: 10, window: 10 };

/** Where a gRPC client connects, and what it calls the service. */
interface GrpcTarget {
  port: number;
  authority?: string;
}

type Measured<T> =
  | {
      outcome: 'measured';
      value: T;
      note?: string;
      /** CPU seconds all proxy processes used per 1,000 calls (unary) or messages (streaming) the backend answered. */
      cpuSPer1k?: number;
    }
  | { outcome: 'failed' | 'not supported'; reason: string };

function reason(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** A CPU figure in seconds per 1,000, or a dash for a path without proxies. */
function cpuCell(s: number | undefined): string {
  return s === undefined ? '—' : s.toFixed(3);
}

/** Samples the proxies' CPU over a load run; `per1k` divides it by what the backend answered meanwhile. */
function proxyCpu(proxies: readonly ProxyProcess[]): { per1k(answered: number): number | undefined } {
  const samplers = proxies.map((p) => new ResourceSampler(p.child.pid));
  return {
    per1k(answered) {
      const cpuS = samplers.reduce((sum, s) => sum + s.stop().cpuSeconds, 0);
      return samplers.length > 0 && answered > 0 ? (cpuS / answered) * 1000 : undefined;
    },
  };
}

async function unary(
  ctx: BenchContext,
  target: GrpcTarget,
  backendPort: number,
  proxies: readonly ProxyProcess[] = [],
): Promise<Measured<H2loadResult>> {
  const dataFile = join(ctx.tmp, 'grpc-unary.bin');
  writeFileSync(dataFile, unaryRequestFrame(PAYLOAD_BYTES));
  try {
    const before = await servedCounts(backendPort);
    const cpu = proxyCpu(proxies);
    const result = await runH2load({
      bin: ctx.tools.h2load!,
      url: `http://127.0.0.1:${target.port}${UNARY_PATH}`,
      dataFile,
      clients: H2LOAD.clients,
      streams: H2LOAD.streams,
      warmupS: ctx.durations.warmupS,
      durationS: ctx.durations.measureS,
      headers: {
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(target.authority ? { ':authority': target.authority } : {}),
      },
    });
    const after = await servedCounts(backendPort);
    // h2load counts HTTP 200s; a gRPC error is also a 200, so compare with what the backend answered.
    const served = after.unary - before.unary;
    const cpuSPer1k = cpu.per1k(served);
    const problems: string[] = [];
    if (result.failed + result.errored + result.timeout > 0)
      problems.push(`${fmtInt(result.failed + result.errored + result.timeout)} failed`);
    if (served < result.status2xx)
      problems.push(`backend answered ${fmtInt(served)} < ${fmtInt(result.status2xx)} 2xx`);
    return { outcome: 'measured', value: result, note: problems.join('; ') || undefined, cpuSPer1k };
  } catch (err) {
    return { outcome: 'failed', reason: reason(err) };
  }
}

async function streaming(
  ctx: BenchContext,
  target: GrpcTarget,
  backendPort: number,
  proxies: readonly ProxyProcess[] = [],
): Promise<Measured<StreamClientReport>> {
  const config: StreamClientConfig = {
    port: target.port,
    authority: target.authority,
    streams: STREAMING.streams,
    window: STREAMING.window,
    payloadBytes: PAYLOAD_BYTES,
    warmupS: ctx.durations.warmupS,
    durationS: ctx.durations.measureS,
  };
  const before = await servedCounts(backendPort);
  const cpu = proxyCpu(proxies);
  const r = await runCommand(
    'grpc stream client',
    ctx.node,
    [join(REPO, 'bench', 'lib', 'grpc-stream-client.ts'), JSON.stringify(config)],
    { timeoutMs: (config.warmupS + config.durationS + 60) * 1000 },
  );
  const after = await servedCounts(backendPort);
  const cpuSPer1k = cpu.per1k(after.stream_messages - before.stream_messages);
  if (r.code !== 0)
    return { outcome: 'failed', reason: `stream client exited ${r.code ?? r.signal}: ${r.stderr.trim()}` };
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as StreamClientReport;
  if (report.errors.length > 0 && report.messages === 0)
    return { outcome: 'failed', reason: report.errors[0] };
  return {
    outcome: 'measured',
    value: report,
    note: report.errors.length > 0 ? `${report.errors.length} stream errors: ${report.errors[0]}` : undefined,
    cpuSPer1k,
  };
}

/** The mesh half: control plane, two sidecars, then the same loads as direct. Never throws: failures become rows. */
async function meshFigures(
  ctx: BenchContext,
  backendPort: number,
): Promise<{
  unary: Measured<H2loadResult>;
  stream: Measured<StreamClientReport>;
  transport?: HopTransport;
  notes: string[];
}> {
  const cp = await controlPlaneOrError(ctx);
  try {
    if (cp instanceof Error) throw cp;
    const mesh = await startMesh(ctx, { cp }, backendPort, { protocol: 'grpc', servicePort: SERVICE_PORT });
    try {
      const target: GrpcTarget = { port: mesh.port, authority: `${mesh.service}:${SERVICE_PORT}` };
      const works = await waitUntil(() => probeUnary(target.port, target.authority, PAYLOAD_BYTES), 20_000);
      if (works.outcome === 'timed-out') {
        const why = `not supported by this build: a unary call through the mesh path fails (${works.last})`;
        return {
          unary: { outcome: 'not supported', reason: why },
          stream: { outcome: 'not supported', reason: why },
          transport: mesh.transport,
          notes: mesh.notes,
        };
      }
      ctx.log('grpc: mesh unary');
      const unaryResult = await unary(ctx, target, backendPort, mesh.proxies);
      ctx.log('grpc: mesh streaming');
      const stream = await streaming(ctx, target, backendPort, mesh.proxies);
      return { unary: unaryResult, stream, transport: mesh.transport, notes: mesh.notes };
    } finally {
      await mesh.stop();
    }
  } catch (err) {
    const failed = { outcome: 'failed' as const, reason: reason(err) };
    return { unary: failed, stream: failed, notes: [] };
  } finally {
    await stopControlPlane(cp);
  }
}

async function run(ctx: BenchContext): Promise<string> {
  const backendPort = await freePort();
  const backend: Child = await startChild({
    name: 'grpc-echo',
    command: ctx.node,
    args: [join(REPO, 'bench', 'lib', 'grpc-echo-server.ts'), String(backendPort)],
    readyLine: /grpc-echo ready/,
  });
  const direct: GrpcTarget = { port: backendPort };
  let directUnary: Measured<H2loadResult>;
  let directStream: Measured<StreamClientReport>;
  let mesh: Awaited<ReturnType<typeof meshFigures>>;
  try {
    ctx.log('grpc: direct unary');
    directUnary = await unary(ctx, direct, backendPort);
    ctx.log('grpc: direct streaming');
    directStream = await streaming(ctx, direct, backendPort);
    mesh = await meshFigures(ctx, backendPort);
  } finally {
    await backend.stop();
  }
  const { unary: meshUnary, stream: meshStream, transport, notes } = mesh;

  const label = `weft mesh path (client sidecar → server sidecar, ${transport ?? 'hop unknown'})`;
  const unaryRow = (name: string, m: Measured<H2loadResult>, base?: H2loadResult) =>
    m.outcome === 'measured'
      ? [
          name,
          fmtInt(m.value.requestsPerSecond),
          fmtMs(m.value.meanMs),
          base ? fmtRatio(m.value.requestsPerSecond / base.requestsPerSecond) : '1.00×',
          cpuCell(m.cpuSPer1k),
          m.note ?? '',
        ]
      : [name, '—', '—', '—', '—', `${m.outcome}: ${m.reason}`];
  const directU = directUnary.outcome === 'measured' ? directUnary.value : undefined;
  const unaryTable = markdownTable(
    ['unary (h2load)', 'calls/s', 'mean ms', 'vs direct', 'proxy CPU s per 1k calls', 'notes'],
    [unaryRow('direct', directUnary), unaryRow(label, meshUnary, directU)],
  );
  const streamRow = (name: string, m: Measured<StreamClientReport>, base?: StreamClientReport) =>
    m.outcome === 'measured'
      ? [
          name,
          fmtInt(m.value.messagesPerSecond),
          fmtMs(m.value.rttUs.p50 / 1000),
          fmtMs(m.value.rttUs.p99 / 1000),
          base ? fmtRatio(m.value.messagesPerSecond / base.messagesPerSecond) : '1.00×',
          cpuCell(m.cpuSPer1k),
          m.note ?? '',
        ]
      : [name, '—', '—', '—', '—', '—', `${m.outcome}: ${m.reason}`];
  const directS = directStream.outcome === 'measured' ? directStream.value : undefined;
  const streamTable = markdownTable(
    [
      'bidi streaming (grpc-js)',
      'messages/s',
      'p50 ms',
      'p99 ms',
      'vs direct',
      'proxy CPU s per 1k msgs',
      'notes',
    ],
    [streamRow('direct', directStream), streamRow(label, meshStream, directS)],
  );
  // A row with failed calls is not used to judge a target.
  const valid = <T>(m: Measured<T>) =>
    m.outcome === 'measured' && m.note === undefined ? m.value : undefined;
  const mu = valid(meshUnary);
  const ms = valid(meshStream);
  const checks = [
    check(
      'gRPC unary through the mesh path ≥ 0.5× direct calls/s',
      mu?.requestsPerSecond,
      'at-least',
      directU && directU.requestsPerSecond * 0.5,
      (v) => `${fmtInt(v)} calls/s = ${fmtRatio(v / directU!.requestsPerSecond)} direct`,
      'the mesh or the direct row has no valid figure in this run',
    ),
    check(
      'gRPC bidi streaming through the mesh path ≥ 0.8× direct messages/s',
      ms?.messagesPerSecond,
      'at-least',
      directS && directS.messagesPerSecond * 0.8,
      (v) => `${fmtInt(v)} messages/s = ${fmtRatio(v / directS!.messagesPerSecond)} direct`,
      'the mesh or the direct row has no valid figure in this run',
    ),
  ];
  return `Backend: a grpc-js server (\`bench/lib/grpc-echo-server.ts\`) echoing ${PAYLOAD_BYTES}-byte messages; server
sidecar declared \`--protocol grpc --service-port ${SERVICE_PORT}\`, clients send \`:authority\` = the service
name. Unary: \`h2load -t1 -c${H2LOAD.clients} -m${H2LOAD.streams}\` (h2c, ${H2LOAD.clients * H2LOAD.streams} calls in flight), ${ctx.durations.warmupS} s
warm-up then ${ctx.durations.measureS} s; h2load reports only the mean latency, and counts HTTP 200s, so the backend's own
count of answered calls is checked against it. Streaming: a grpc-js client (\`bench/lib/grpc-stream-client.ts\`)
with ${STREAMING.streams} bidirectional streams, ${STREAMING.window} messages in flight on each; the client itself is
single-threaded Node and may be the limit of the direct row. Proxy CPU is utime + stime of both sidecars
over the whole load run (warm-up included) divided by the calls or messages the backend answered meanwhile:
at 1,000 calls/s, 0.1 s per 1k is a tenth of a core for the pair of sidecars. It depends on the machine's
load less than calls/s, which on a busy 2-core machine is bounded by how often four processes get a core.

${unaryTable}

${streamTable}
${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
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
