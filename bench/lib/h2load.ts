// Runs h2load (nghttp2) for gRPC unary load over h2c and parses its report.
import { runCommand } from './processes.ts';

export interface H2loadOptions {
  bin: string;
  url: string;
  /** File whose bytes are each request's body (a gRPC frame). */
  dataFile: string;
  clients: number;
  /** Concurrent streams per client connection (-m). */
  streams: number;
  warmupS: number;
  durationS: number;
  headers: Record<string, string>;
  /** Requests per second of each client (h2load --rps); absent: as fast as responses come back. */
  rpsPerClient?: number;
}

export interface H2loadResult {
  requestsPerSecond: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** Mean time per request (h2load reports no percentiles), milliseconds. */
  meanMs: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

export function parseH2load(text: string): H2loadResult {
  const finished = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text);
  const requests =
    /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      text,
    );
  const codes = /status codes: (\d+) 2xx/.exec(text);
  const time = /time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)\s/.exec(text);
  if (!finished || !requests || !codes || !time) throw new Error(`cannot parse h2load output:\n${text}`);
  return {
    requestsPerSecond: Number(finished[1]),
    succeeded: Number(requests[1]),
    failed: Number(requests[2]),
    errored: Number(requests[3]),
    timeout: Number(requests[4]),
    status2xx: Number(codes[1]),
    meanMs: Number(time[1]) * UNIT_MS[time[2]],
  };
}

export async function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = [
    '-t1',
    `-c${o.clients}`,
    `-m${o.streams}`,
    `--warm-up-time=${o.warmupS}s`,
    `-D${o.durationS}s`,
    '-d',
    o.dataFile,
  ];
  if (o.rpsPerClient !== undefined) args.push(`--rps=${o.rpsPerClient}`);
  for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const r = await runCommand('h2load', o.bin, args, { timeoutMs: (o.warmupS + o.durationS + 60) * 1000 });
  if (r.code !== 0) throw new Error(`h2load exited with ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return parseH2load(r.stdout);
}
