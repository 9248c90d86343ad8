// The Node peer proxy for comparison: fastify with @fastify/http-proxy (undici upstream), run as a child process.
// Usage: node bench/lib/node-peer.ts PORT UPSTREAM_PORT — prints "node-peer ready PORT".
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
if (!(port > 0 && upstreamPort > 0)) {
  process.stderr.write('usage: node bench/lib/node-peer.ts PORT UPSTREAM_PORT\n');
  process.exit(1);
}

const app = Fastify({ logger: false });
await app.register(proxy, {
  upstream: `http://127.0.0.1:${upstreamPort}`,
  // undici pool to the upstream: enough keep-alive connections for 50 concurrent requests.
  undici: { connections: 128, pipelining: 1, keepAliveTimeout: 300_000 },
});
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`node-peer ready ${port}\n`);
const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
