// The Node.js floor (a reference, not a product): one upstream connection per downstream one, bytes relayed both ways, no HTTP.
// Usage: node bench/lib/node-floor.ts PORT UPSTREAM_PORT — prints "node-floor ready PORT" (the port bound, when PORT is 0).
//
// The least any Node.js HTTP/1.1 proxy can do per request: wake up, read, write on, for each
// request and each response. It parses nothing, routes nothing and counts nothing, so it only
// works because every downstream keep-alive connection gets its own upstream connection for its
// whole life. Reads go into buffers the connection owns (Node's `onread` mode, the same mechanism
// weft's HTTP/1.1 connections use), so no ArrayBuffer is allocated per read.
import net from 'node:net';
import { canReadInto, readInto } from '../../src/proxy/common/user-read-buffer.ts';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
if (!(port >= 0 && upstreamPort > 0)) {
  process.stderr.write('usage: node bench/lib/node-floor.ts PORT UPSTREAM_PORT\n');
  process.exit(1);
}

const BUFFER_BYTES = 16 * 1024;
const NOTHING = Buffer.alloc(0);

/**
 * One direction of a pair: each read of `from` is written to `to` at once. A write the kernel did
 * not take at once still refers to the buffer, so reading pauses until `to` has written everything
 * queued; the buffer is reused only then.
 */
function forward(from: net.Socket, to: net.Socket): void {
  const buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  const resume = () => from.resume();
  const onRead = (bytes: number, into: Buffer): boolean => {
    to.write(into.subarray(0, bytes));
    if (to.writableLength === 0) return true;
    to.write(NOTHING, resume);
    return false;
  };
  if (canReadInto(from)) readInto(from, buffer, onRead, null);
  else from.on('data', (chunk: Buffer) => to.write(chunk));
  from.on('end', () => to.end());
}

const server = net.createServer({ noDelay: true }, (down) => {
  const up = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  const close = () => {
    down.destroy();
    up.destroy();
  };
  for (const s of [down, up]) s.on('error', close).on('close', close);
  forward(down, up);
  forward(up, down);
});
server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () =>
  process.stdout.write(`node-floor ready ${(server.address() as net.AddressInfo).port}\n`),
);
// Keep-alive connections would hold a graceful close open: a reference has nothing to drain.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
