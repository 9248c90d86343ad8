// Opaque TCP load (a child process): one bulk transfer to or from bench/lib/tcp-bulk-server.ts, directly or through an HTTP CONNECT tunnel.
// Usage: node bench/lib/tcp-bulk-client.ts '<TcpClientConfig as JSON>' — prints one JSON line (TcpClientReport).
import { connect, type Socket } from 'node:net';

export interface TcpClientConfig {
  /** Port on 127.0.0.1 to connect to (the backend, or a proxy). */
  port: number;
  /** When set, first send `CONNECT <connect> HTTP/1.1` and expect 200 (an HTTP proxy's tunnel). */
  connect?: string;
  /** download: the server sends; upload: the client sends. */
  direction: 'download' | 'upload';
  bytes: number;
}

export interface TcpClientReport {
  bytes: number;
  /** From the request (after the tunnel is up) to the last byte (download) or the server's OK (upload). */
  seconds: number;
  megabytesPerSecond: number;
  /** CPU seconds this client used over the transfer (user + system, start-up not counted). */
  cpuSeconds: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x79);

function open(c: TcpClientConfig): Promise<{ socket: Socket; early: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: c.port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      if (!c.connect) {
        resolve({ socket, early: Buffer.alloc(0) });
        return;
      }
      socket.write(`CONNECT ${c.connect} HTTP/1.1\r\nHost: ${c.connect}\r\n\r\n`);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = /^HTTP\/1\.[01] (\d{3})[^\r]*/.exec(head.toString('latin1', 0, end));
        if (status?.[1] !== '200') {
          socket.destroy();
          reject(
            new Error(
              `CONNECT ${c.connect} answered ${status?.[0] ?? JSON.stringify(head.toString('latin1', 0, 80))}`,
            ),
          );
          return;
        }
        resolve({ socket, early: head.subarray(end + 4) });
      };
      socket.on('data', onData);
    });
  });
}

async function main(c: TcpClientConfig): Promise<TcpClientReport> {
  const { socket, early } = await open(c);
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the connection closed before the transfer finished')));
    if (c.direction === 'download') {
      let received = early.length;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= c.bytes) resolve();
      });
      socket.write(`GET ${c.bytes}\n`);
      return;
    }
    let reply = early.toString('latin1');
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('OK\n')) resolve();
    });
    socket.write(`PUT ${c.bytes}\n`);
    let left = c.bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  socket.removeAllListeners('close');
  socket.destroy();
  return {
    bytes: c.bytes,
    seconds,
    megabytesPerSecond: c.bytes / 1e6 / seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

const config = JSON.parse(process.argv[2] ?? '{}') as TcpClientConfig;
if (
  !(config.port > 0 && config.bytes > 0 && (config.direction === 'download' || config.direction === 'upload'))
) {
  process.stderr.write(
    'usage: node bench/lib/tcp-bulk-client.ts \'{"port":9000,"direction":"download","bytes":1073741824}\'\n',
  );
  process.exit(1);
}
main(config).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`tcp client failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
