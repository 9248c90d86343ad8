// Runs inside a test network namespace: listens on PORT, connects to ADDRESS:DPORT as group GID, prints the accepted connection's original destination.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { originalDestination } from '../../src/proxy/listener/original-dst.ts';

const [port, address, dport, gid] = process.argv.slice(2);
const server = net.createServer(async (socket) => {
  const original = await originalDestination(socket.remoteAddress ?? '', socket.remotePort ?? 0);
  process.stdout.write(JSON.stringify({ original }));
  socket.destroy();
  server.close();
});
// Dual stack: IPv4 connections arrive as ::ffff:a.b.c.d, IPv6 ones redirected to ::1.
server.listen(Number(port), '::', () => {
  const client = spawn(
    process.execPath,
    [
      '-e',
      `require('node:net').connect(${Number(dport)}, ${JSON.stringify(address)}).on('error', () => {}).on('close', () => {})`,
    ],
    { gid: Number(gid), stdio: 'inherit' },
  );
  client.on('error', (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
});
setTimeout(() => {
  process.stderr.write('no redirected connection arrived within 15 s\n');
  process.exit(1);
}, 15_000).unref();
