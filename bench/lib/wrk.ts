// Runs wrk (closed loop, `--latency`) and parses its report into numbers.
import { runCommand } from './processes.ts';

/** One wrk run. */
export interface WrkOptions {
  /** Path to the wrk binary. */
  bin: string;
  url: string;
  connections: number;
  /** wrk threads (-t); the harness uses 1 so every proxy faces the same single-threaded client. */
  threads: number;
  durationS: number;
  /** A command wrk runs under (e.g. `ip netns exec NS` to load from a network namespace). */
  prefix?: string[];
  /** Extra request headers (e.g. Host for a proxy that routes by it). */
  headers?: Record<string, string>;
  /**
   * wrk's per-request timeout (s): slower requests count as timeouts and leave the
   * latency figures, so it is set far above any latency expected here.
   */
  timeoutS?: number;
}

/** What wrk reported. Latencies are in milliseconds. */
export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p75: number; p90: number; p99: number };
  /** Responses that were not 2xx/3xx. */
  non2xx: number;
  /** Socket errors by kind. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(value: string, unit: string): number {
  const factor = UNIT_MS[unit];
  if (factor === undefined) throw new Error(`wrk: unknown time unit "${unit}"`);
  return Number(value) * factor;
}

/** Parses wrk's text report (run with --latency). Throws if a required figure is missing. */
export function parseWrk(text: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!total || !rps) throw new Error(`cannot parse wrk output:\n${text}`);
  const percentile = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    if (!m) throw new Error(`wrk output has no ${p}% latency (was --latency given?):\n${text}`);
    return toMs(m[1], m[2]);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2], total[3]) / 1000,
    requestsPerSecond: Number(rps[1]),
    latencyMs: { p50: percentile('50'), p75: percentile('75'), p90: percentile('90'), p99: percentile('99') },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: {
      connect: socket ? Number(socket[1]) : 0,
      read: socket ? Number(socket[2]) : 0,
      write: socket ? Number(socket[3]) : 0,
      timeout: socket ? Number(socket[4]) : 0,
    },
  };
}

/** Failed requests of a run: non-2xx responses plus socket errors. */
export function wrkErrors(r: WrkResult): number {
  const s = r.socketErrors;
  return r.non2xx + s.connect + s.read + s.write + s.timeout;
}

function wrkArgs(o: WrkOptions, durationS: number): string[] {
  const args = [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${durationS}s`,
    `--timeout`,
    `${o.timeoutS ?? 30}s`,
    '--latency',
  ];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return args;
}

/** Runs wrk once and parses the report; a failed run throws with wrk's own output. */
export async function runWrk(o: WrkOptions, durationS = o.durationS): Promise<WrkResult> {
  const [command, ...args] = [...(o.prefix ?? []), o.bin, ...wrkArgs(o, durationS)];
  const result = await runCommand('wrk', command, args, {
    timeoutMs: (durationS + 60) * 1000,
  });
  if (result.code !== 0)
    throw new Error(`wrk exited with ${result.code ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  return parseWrk(result.stdout);
}
