// Child of h2-shape-anchor.test.ts: gRPC-shaped HTTP/2 calls through a proxy core, every connection closed, full GCs: is the h2 path still optimized?
//
// Run with --allow-natives-syntax --expose-gc; argv[2] `keep` (the proxy's own anchors) or `drop`
// (each anchor replaced with a plain object first, as if there were none). Prints one JSON line.
import http2 from 'node:http2';
import type net from 'node:net';
import { keepShape, keptShape } from '../../src/proxy/common/shape-anchor.ts';
import { H2ServerStream } from '../../src/proxy/http/h2/server-stream.ts';
import { H2Upstream } from '../../src/proxy/http/router/upstream-h2.ts';
import { HttpStream } from '../../src/proxy/http/stream/http-stream.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { coreWith, h2OptionsWithIdle, outboundListener, staticCluster, vhost } from './fixtures.ts';

/** The pool's sessions close after this long idle, so the upstream side's objects die too. */
const UPSTREAM_IDLE_MS = 100;
const KINDS = ['h2-server-stream', 'h2-server-session', 'h2-upstream-stream', 'h2-client-session'];

const natives = (name: string) => new Function('f', `return %${name}(f)`) as (f: unknown) => number;
const prepare = natives('PrepareFunctionForOptimization');
const optimizeNext = natives('OptimizeFunctionOnNextCall');
const status = natives('GetOptimizationStatus');

/** The request path's methods whose optimized code checks the maps of per-stream objects. */
const FUNCTIONS: Record<string, unknown> = {
  'H2Upstream.start': H2Upstream.prototype.start,
  'HttpStream.decodeHeaders': HttpStream.prototype.decodeHeaders,
  'HttpStream.decodeData': HttpStream.prototype.decodeData,
  'HttpStream.decodeComplete': HttpStream.prototype.decodeComplete,
  'H2ServerStream.onData': H2ServerStream.prototype.onData,
};

function optimized(): Record<string, boolean> {
  return Object.fromEntries(Object.entries(FUNCTIONS).map(([name, f]) => [name, (status(f) & 16) !== 0]));
}

/** `count` unary-shaped calls (POST, a body, a response with trailers) on one new connection, then it closes. */
async function calls(port: number, count: number): Promise<void> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = client.request({
        ':method': 'POST',
        ':path': '/weft.Echo/Unary',
        ':authority': 'app',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      req.on('error', reject);
      req.on('data', () => {});
      req.on('end', resolve);
      req.end(Buffer.alloc(16, 1));
    });
  for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: 10 }, one));
  await new Promise<void>((resolve) => client.close(resolve));
}

async function start(): Promise<{ core: ProxyCore; backend: http2.Http2Server; port: number }> {
  const backend = http2.createServer();
  backend.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(16, 2));
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const listener = outboundListener(0);
  const core = await coreWith({
    listeners: [listener],
    clusters: [
      staticCluster('app', [{ port: (backend.address() as net.AddressInfo).port }], {
        typedExtensionProtocolOptions: h2OptionsWithIdle(UPSTREAM_IDLE_MS),
      }),
    ],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [vhost('app', 80, [{ match: { prefix: '/' }, route: { cluster: 'app' } }])],
      },
    ],
  });
  return { core, backend, port: core.listeners.get('outbound')!.port };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until the pool's sessions closed after their idle timeout (bounded: 20 s). */
async function upstreamClosed(core: ProxyCore): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (core.clusters.get('app')?.stats.cxActive !== 0 && Date.now() < deadline) await sleep(20);
  await sleep(2 * UPSTREAM_IDLE_MS);
}

const { core, backend, port } = await start();
await calls(port, 200);
// A first round of closes: the first close of a session stores fields that never changed before,
// which deoptimizes code that read them as constants once per process, not at every idle GC.
await upstreamClosed(core);
for (const f of Object.values(FUNCTIONS)) prepare(f);
await calls(port, 100);
// Optimized now; again for any that a later call deoptimized (new type feedback), a few rounds at most.
for (let round = 0; round < 5; round++) {
  const cold = Object.values(FUNCTIONS).filter((f) => (status(f) & 16) === 0);
  if (cold.length === 0) break;
  for (const f of cold) {
    prepare(f);
    optimizeNext(f);
  }
  await calls(port, 20);
}
const before = optimized();
if (process.argv[2] === 'drop') for (const kind of KINDS) keepShape(kind, {});
// Every connection is closed (the client's above; the pool's after its idle timeout): back in the
// event loop, as an idle proxy is, no frame of ours holds a stream's objects.
await upstreamClosed(core);
for (let i = 0; i < 3; i++) globalThis.gc?.();
const kept = KINDS.filter((kind) => keptShape(kind)?.constructor !== Object);
console.log(JSON.stringify({ before, after: optimized(), kept }));
core.destroy();
backend.close();
// Nothing is left to wait for (Node's HTTP/2 client keeps the loop alive for a while).
process.exit(0);
