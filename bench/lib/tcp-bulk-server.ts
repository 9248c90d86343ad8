// Opaque TCP backend of the benchmarks (a child process): "GET n\n" streams n bytes back, "PUT n\n" reads n bytes then answers "OK\n".
// Usage: node bench/lib/tcp-bulk-server.ts PORT — prints "tcp-bulk ready PORT".
import { createServer, type Socket } from 'node:net';

const port = Number(process.argv[2]);
if (!(port > 0)) {
  process.stderr.write('usage: node bench/lib/tcp-bulk-server.ts PORT\n');
  process.exit(1);
}

const CHUNK = Buffer.alloc(64 * 1024, 0x7a);

/** Writes `left` bytes, respecting backpressure. */
function stream(socket: Socket, left: number): void {
  while (left > 0) {
    const n = Math.min(left, CHUNK.length);
    left -= n;
    if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
      socket.once('drain', () => stream(socket, left));
      return;
    }
  }
}

const server = createServer((socket) => {
  socket.on('error', () => {});
  let command = '';
  let expecting = -1;
  socket.on('data', (chunk: Buffer) => {
    if (expecting < 0) {
      command += chunk.toString('latin1');
      const eol = command.indexOf('\n');
      if (eol < 0) {
        if (command.length > 100) socket.destroy();
        return;
      }
      const m = /^(GET|PUT) (\d+)$/.exec(command.slice(0, eol));
      if (!m) {
        socket.end('ERR expected "GET n" or "PUT n"\n');
        return;
      }
      const rest = Buffer.byteLength(command.slice(eol + 1), 'latin1');
      if (m[1] === 'GET') {
        stream(socket, Number(m[2]));
        expecting = 0;
        return;
      }
      expecting = Number(m[2]) - rest;
    } else expecting -= chunk.length;
    if (expecting <= 0) socket.write('OK\n');
  });
});
server.listen({ host: '127.0.0.1', port }, () => process.stdout.write(`tcp-bulk ready ${port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
