// Open-loop HTTP/1.1 load generator (a child process): sends on a fixed schedule and measures from the intended send time.
// Usage: node bench/lib/rate-client.ts '<RateClientConfig as JSON>' — prints one JSON line (RateClientReport).
//
// Coordinated omission: a closed-loop client waits for a slow response before sending the next
// request, so the requests that would have met the stall are never sent and never measured.
// Here request i is due at t0 + i/rate whatever happens; its latency is measured from that
// intended time, so time spent waiting for a free connection (or for this process) counts.
// A worker thread keeps the schedule with sub-millisecond sleeps (Atomics.wait) and wakes the
// main thread, which owns the sockets.
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { latencyHistogram, type RateClientReport, summarize } from './rate-report.ts';
import { ResponseReader } from './response-reader.ts';

/** What the parent asks for. */
export interface RateClientConfig {
  port: number;
  /** Host header (weft routes by it); default 127.0.0.1:port. */
  host?: string;
  path: string;
  /** Requests per second. */
  rate: number;
  /** Seconds at the rate before measuring; those requests are not recorded. */
  warmupS: number;
  durationS: number;
  /** Keep-alive connections opened before the start (one request in flight on each). */
  connections: number;
}

export type { RateClientReport };

const TICKER = `
const { parentPort, workerData } = require('node:worker_threads');
const cell = new Int32Array(new SharedArrayBuffer(4));
const t0 = BigInt(workerData.t0);
for (let i = 0; i < workerData.total; i++) {
  const due = t0 + BigInt(Math.round(i * workerData.intervalNs));
  for (;;) {
    const left = Number(due - process.hrtime.bigint());
    if (left <= 0) break;
    Atomics.wait(cell, 0, 0, left / 1e6);
  }
  parentPort.postMessage(i);
}
parentPort.postMessage(-1);
`;

interface Connection {
  socket: Socket;
  reader: ResponseReader;
  /** Intended send time of the request in flight (hrtime ns), or -1 when idle. */
  intended: bigint;
}

async function main(config: RateClientConfig): Promise<RateClientReport> {
  const request = Buffer.from(
    `GET ${config.path} HTTP/1.1\r\nHost: ${config.host ?? `127.0.0.1:${config.port}`}\r\nUser-Agent: weft-bench-open-loop\r\n\r\n`,
    'latin1',
  );
  const latency = latencyHistogram();
  const lag = latencyHistogram();
  const intervalNs = 1e9 / config.rate;
  const total = Math.round((config.warmupS + config.durationS) * config.rate);
  const warmupCount = Math.round(config.warmupS * config.rate);
  const idle: Connection[] = [];
  const conns = new Set<Connection>();
  const queue: bigint[] = [];
  let queueHead = 0;
  let errors = 0;
  let completed = 0;
  let measureStart = 0n;
  let lastDone = 0n;
  let t0 = 0n;
  let measuredFrom = 0n;
  let outstanding = 0;
  let allSent = false;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));

  const send = (c: Connection, intended: bigint) => {
    c.intended = intended;
    c.socket.write(request);
  };
  const release = (c: Connection) => {
    c.intended = -1n;
    if (queueHead < queue.length) send(c, queue[queueHead++]);
    else idle.push(c);
  };
  const complete = (intended: bigint, status: number | 'lost') => {
    const now = process.hrtime.bigint();
    outstanding--;
    if (intended >= measuredFrom) {
      latency.recordValue(Math.max(1, Number((now - intended) / 1000n)));
      if (status === 'lost' || status < 200 || status > 299) errors++;
      if (measureStart === 0n) measureStart = intended;
      completed++;
      lastDone = now;
    }
    if (allSent && outstanding === 0) finish();
  };
  const open = (): Promise<Connection> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: config.port, noDelay: true });
      const c: Connection = { socket, reader: new ResponseReader(), intended: -1n };
      conns.add(c);
      socket.once('connect', () => resolve(c));
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        const bad = c.reader.feed(chunk, (status) => {
          const intended = c.intended;
          c.intended = -1n;
          complete(intended, status);
          release(c);
        });
        if (bad) socket.destroy(new Error(bad));
      });
      socket.on('close', () => {
        conns.delete(c);
        if (c.intended >= 0n) complete(c.intended, 'lost');
        const at = idle.indexOf(c);
        if (at >= 0) idle.splice(at, 1);
        if (!allSent || outstanding > 0)
          open().then(release, () => {
            // the target is gone: queued requests stay queued and end as timeouts
          });
      });
      socket.on('error', () => {});
    });

  for (const c of await Promise.all(Array.from({ length: config.connections }, open))) idle.push(c);

  t0 = process.hrtime.bigint() + 20_000_000n;
  measuredFrom = t0 + BigInt(Math.round(warmupCount * intervalNs));
  let next = 0;
  const ticker = new Worker(TICKER, { eval: true, workerData: { t0: String(t0), intervalNs, total } });
  ticker.on('message', (i: number) => {
    const now = process.hrtime.bigint();
    while (next < total) {
      const due = t0 + BigInt(Math.round(next * intervalNs));
      if (due > now && i !== -1) break;
      next++;
      outstanding++;
      // The generator's own lateness: how long after its due time this process got to the request.
      if (due >= measuredFrom) lag.recordValue(Math.max(1, Number((now - due) / 1000n)));
      const c = idle.pop();
      if (c) send(c, due);
      else queue.push(due);
    }
    if (i === -1 || next >= total) {
      allSent = true;
      if (outstanding === 0) finish();
    }
  });
  ticker.on('error', (err) => {
    process.stderr.write(`ticker failed: ${err.message}\n`);
    process.exit(2);
  });

  let timedOut = 0;
  const endOfSchedule = Number((BigInt(total) * BigInt(Math.round(intervalNs))) / 1_000_000n);
  const deadline = setTimeout(
    () => {
      // Whatever is still unanswered is recorded with its latency so far and counted as timed out.
      const now = process.hrtime.bigint();
      const pending: bigint[] = [...queue.slice(queueHead)];
      for (const c of conns) if (c.intended >= 0n) pending.push(c.intended);
      for (const intended of pending)
        if (intended >= measuredFrom) {
          latency.recordValue(Math.max(1, Number((now - intended) / 1000n)));
          timedOut++;
        }
      finish();
    },
    endOfSchedule + 30 + 10_000,
  );
  await finished;
  clearTimeout(deadline);
  await ticker.terminate();
  const seconds = Number(lastDone - measureStart) / 1e9;
  return summarize(
    { recorded: completed, errors, timedOut, achievedRate: seconds > 0 ? completed / seconds : 0 },
    latency,
    lag,
  );
}

const config = JSON.parse(process.argv[2] ?? '{}') as RateClientConfig;
if (!(config.port > 0 && config.rate > 0 && config.durationS > 0 && config.connections > 0)) {
  process.stderr.write('usage: node bench/lib/rate-client.ts \'{"port":8080,"path":"/","rate":1000,...}\'\n');
  process.exit(1);
}
main(config).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`open-loop client failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
