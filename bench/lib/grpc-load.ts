// gRPC loads of the grpc benchmark (h2load unary, grpc-js bidi streams) and the CPU every process of the path spent per call or message.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, REPO } from './context.ts';
import { servedCounts, UNARY_PATH, unaryRequestFrame } from './echo.ts';
import type { StreamClientConfig, StreamClientReport } from './grpc-stream-client.ts';
import { type H2loadResult, runH2load } from './h2load.ts';
import { runCommand } from './processes.ts';
import { cpuSnapshot, ResourceSampler } from './procfs.ts';
import { fmtInt } from './table.ts';

export const PAYLOAD_BYTES = 128;
export const H2LOAD = { clients: 10, streams: 10 };
export const STREAMING = { streams: 10, window: 10 };

/** Where a gRPC client connects, what it calls the service, and the processes in between. */
export interface GrpcTarget {
  port: number;
  authority?: string;
  /** Proxy processes on the path (none for direct). */
  proxies: readonly { role: string; child: { pid: number } }[];
  /** The backend: its port (for its own count of answered calls) and pid (for its CPU). */
  backend: { port: number; pid: number };
}

/** CPU seconds per 1,000 calls or messages the backend answered, by process of the path. */
export interface CpuPer1k {
  /** All proxy processes together (undefined: none on the path). */
  proxies?: number;
  client: number;
  server: number;
  /** Client + proxies + server: what the path costs the machine. */
  total: number;
}

export type Measured<T> =
  | { outcome: 'measured'; value: T; note?: string; cpu?: CpuPer1k }
  | { outcome: 'failed' | 'not supported'; reason: string };

export function reason(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** CPU seconds of this harness's children that exited and were reaped (h2load): /proc/self cutime + cstime. */
function reapedChildrenCpuS(): number {
  const own = process.cpuUsage();
  return cpuSnapshot().ownS - (own.user + own.system) / 1e6;
}

/** Samples the proxies' and the backend's CPU over a load run. */
function sampleCpu(target: GrpcTarget) {
  const proxies = target.proxies.map((p) => new ResourceSampler(p.child.pid));
  const server = new ResourceSampler(target.backend.pid);
  return {
    /** Per 1k of `answered`; `clientS` is the load generator's CPU seconds over the same work. */
    per1k(answered: number, clientS: number): CpuPer1k | undefined {
      const proxyS = proxies.reduce((sum, s) => sum + s.stop().cpuSeconds, 0);
      const serverS = server.stop().cpuSeconds;
      if (answered <= 0) return undefined;
      const k = 1000 / answered;
      const p = proxies.length > 0 ? proxyS * k : undefined;
      return {
        proxies: p,
        client: clientS * k,
        server: serverS * k,
        total: (clientS + proxyS + serverS) * k,
      };
    },
  };
}

/** h2load over h2c: calls/s, mean latency, and CPU per 1k calls of every process. */
export async function unary(ctx: BenchContext, target: GrpcTarget): Promise<Measured<H2loadResult>> {
  const dataFile = join(ctx.tmp, 'grpc-unary.bin');
  writeFileSync(dataFile, unaryRequestFrame(PAYLOAD_BYTES));
  try {
    const before = await servedCounts(target.backend.port);
    const cpu = sampleCpu(target);
    const childrenBefore = reapedChildrenCpuS();
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
    const clientS = reapedChildrenCpuS() - childrenBefore;
    const after = await servedCounts(target.backend.port);
    // h2load counts HTTP 200s; a gRPC error is also a 200, so compare with what the backend answered.
    const served = after.unary - before.unary;
    const problems: string[] = [];
    if (result.failed + result.errored + result.timeout > 0)
      problems.push(`${fmtInt(result.failed + result.errored + result.timeout)} failed`);
    if (served < result.status2xx)
      problems.push(`backend answered ${fmtInt(served)} < ${fmtInt(result.status2xx)} 2xx`);
    return {
      outcome: 'measured',
      value: result,
      note: problems.join('; ') || undefined,
      cpu: cpu.per1k(served, clientS),
    };
  } catch (err) {
    return { outcome: 'failed', reason: reason(err) };
  }
}

/** The grpc-js streaming client (a child process) with `streams` × `window` messages in flight. */
export async function streaming(
  ctx: BenchContext,
  target: GrpcTarget,
  shape: { streams: number; window: number; durationS?: number } = STREAMING,
): Promise<Measured<StreamClientReport>> {
  const config: StreamClientConfig = {
    port: target.port,
    authority: target.authority,
    streams: shape.streams,
    window: shape.window,
    payloadBytes: PAYLOAD_BYTES,
    warmupS: ctx.durations.warmupS,
    durationS: shape.durationS ?? ctx.durations.measureS,
  };
  try {
    const before = await servedCounts(target.backend.port);
    const cpu = sampleCpu(target);
    const r = await runCommand(
      'grpc stream client',
      ctx.node,
      [join(REPO, 'bench', 'lib', 'grpc-stream-client.ts'), JSON.stringify(config)],
      { timeoutMs: (config.warmupS + config.durationS + 60) * 1000 },
    );
    const after = await servedCounts(target.backend.port);
    if (r.code !== 0)
      return { outcome: 'failed', reason: `stream client exited ${r.code ?? r.signal}: ${r.stderr.trim()}` };
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as StreamClientReport;
    if (report.errors.length > 0 && report.messages === 0)
      return { outcome: 'failed', reason: report.errors[0] };
    // The client's CPU is its own over the measured window, scaled to the whole run's messages.
    const answered = after.stream_messages - before.stream_messages;
    const clientS = report.messages > 0 ? (report.cpuSeconds / report.messages) * answered : 0;
    return {
      outcome: 'measured',
      value: report,
      note:
        report.errors.length > 0 ? `${report.errors.length} stream errors: ${report.errors[0]}` : undefined,
      cpu: cpu.per1k(answered, clientS),
    };
  } catch (err) {
    return { outcome: 'failed', reason: reason(err) };
  }
}
