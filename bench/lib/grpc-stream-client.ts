// gRPC streaming load (a child process): bidirectional echo streams with a window of messages in flight each.
// Usage: node bench/lib/grpc-stream-client.ts '<StreamClientConfig as JSON>' — prints one JSON line (StreamClientReport).
import * as hdr from 'hdr-histogram-js';
import { echoClient, type Payload } from './echo.ts';

export interface StreamClientConfig {
  port: number;
  /** :authority to send (a sidecar routes by it). */
  authority?: string;
  /** Concurrent streams on one channel. */
  streams: number;
  /** Messages in flight per stream. */
  window: number;
  payloadBytes: number;
  warmupS: number;
  durationS: number;
}

export interface StreamClientReport {
  /** Echoed messages received during the measured window. */
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** Round trip of one message (send → echo received), microseconds. */
  rttUs: { p50: number; p99: number };
  /** The client's own CPU seconds (user + system) over the measured window. */
  cpuSeconds: number;
  /** Stream errors (each ends its stream). */
  errors: string[];
}

async function main(c: StreamClientConfig): Promise<StreamClientReport> {
  const client = echoClient(c.port, c.authority);
  const payload: Payload = { data: Buffer.alloc(c.payloadBytes, 0x62) };
  const rtt = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const errors: string[] = [];
  let measuring = false;
  let running = true;
  let messages = 0;
  const ended: Promise<void>[] = [];
  for (let s = 0; s < c.streams; s++) {
    const call = client.Stream();
    const sent: bigint[] = [];
    let head = 0;
    const sendOne = () => {
      sent.push(process.hrtime.bigint());
      call.write(payload);
    };
    call.on('data', () => {
      const now = process.hrtime.bigint();
      const at = sent[head++];
      if (head > 4096) {
        sent.splice(0, head);
        head = 0;
      }
      if (measuring) {
        messages++;
        rtt.recordValue(Math.max(1, Number((now - at) / 1000n)));
      }
      if (running) sendOne();
      else if (head === sent.length) call.end();
    });
    ended.push(
      new Promise<void>((resolve) => {
        call.on('error', (err: Error) => {
          errors.push(err.message);
          resolve();
        });
        call.on('end', () => resolve());
        call.on('status', () => resolve());
      }),
    );
    for (let i = 0; i < c.window; i++) sendOne();
  }
  await new Promise((r) => setTimeout(r, c.warmupS * 1000));
  measuring = true;
  const start = process.hrtime.bigint();
  const cpuAtStart = process.cpuUsage();
  await new Promise((r) => setTimeout(r, c.durationS * 1000));
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuAtStart);
  running = false;
  await Promise.race([Promise.all(ended), new Promise((r) => setTimeout(r, 10_000))]);
  client.close();
  return {
    messages,
    seconds,
    messagesPerSecond: messages / seconds,
    rttUs: { p50: rtt.getValueAtPercentile(50), p99: rtt.getValueAtPercentile(99) },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    errors,
  };
}

const config = JSON.parse(process.argv[2] ?? '{}') as StreamClientConfig;
if (!(config.port > 0 && config.streams > 0 && config.window > 0 && config.durationS > 0)) {
  process.stderr.write('usage: node bench/lib/grpc-stream-client.ts \'{"port":50051,"streams":10,...}\'\n');
  process.exit(1);
}
main(config).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`stream client failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
