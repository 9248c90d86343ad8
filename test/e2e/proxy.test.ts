// End to end: real `weft control-plane` and `weft proxy` processes; apps reached by name through two sidecars.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ProxyAgent, WebSocket } from 'undici';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho, startTcpEcho } from '../helpers/echo.ts';
import { ERROR_DETAILS, grpcEchoClient, type Message, startGrpcEcho } from '../helpers/echo-grpc.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;
const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';

let dir: string;
let controlPlane: WeftProcess;
let server: string;
const procs: WeftProcess[] = [];
const apps: { close(): Promise<void> }[] = [];
/** The client sidecar's outbound and admin ports. */
let out: number;
let admin: number;

async function sidecar(args: string[]): Promise<{ proc: WeftProcess; out: number; admin: number }> {
  const proc = await startWeft(
    [
      'proxy',
      '--server',
      server,
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      '--drain-timeout',
      '5s',
      ...args,
    ],
    { ready: PROXY_READY, timeoutMs: 60_000 },
  );
  procs.push(proc);
  return { proc, out: Number(proc.ready[1]), admin: Number(proc.ready[2]) };
}

async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const r = await request(port, { host: '127.0.0.1', path });
  return JSON.parse(r.body.toString('utf8'));
}

async function healthyHosts(adminPort: number, cluster: string): Promise<number> {
  const body = (await getJson(adminPort, '/clusters?format=json')) as {
    clusterStatuses: { name: string; hostStatuses: { healthy: boolean }[] }[];
  };
  return (
    body.clusterStatuses.find((c) => c.name === cluster)?.hostStatuses.filter((h) => h.healthy).length ?? 0
  );
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-proxy-'));
  controlPlane = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
    ],
    { ready: CP_READY },
  );
  server = controlPlane.ready[1];
  const v1: Echo = await startHttpEcho('reviews-v1');
  const v2: Echo = await startHttpEcho('reviews-v2');
  const greeter = await startGrpcEcho('greeter');
  const db = await startTcpEcho('db');
  const clientApp = await startHttpEcho('client');
  apps.push(v1, v2, greeter, db, clientApp);
  // A service whose app is not listening: its sidecar answers 503 UF.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const started = await Promise.all([
    sidecar([
      '--service',
      'reviews',
      '--version',
      'v1',
      '--app-port',
      String(v1.port),
      '--service-port',
      '9080',
    ]),
    sidecar([
      '--service',
      'reviews',
      '--version',
      'v2',
      '--app-port',
      String(v2.port),
      '--service-port',
      '9080',
    ]),
    sidecar([
      '--service',
      'greeter',
      '--app-port',
      String(greeter.port),
      '--service-port',
      '50051',
      '--protocol',
      'grpc',
    ]),
    sidecar([
      '--service',
      'db',
      '--app-port',
      String(db.port),
      '--service-port',
      '5432',
      '--protocol',
      'tcp',
    ]),
    sidecar(['--service', 'ghost', '--app-port', String(closedPort), '--service-port', '80']),
    sidecar(['--service', 'client', '--app-port', String(clientApp.port)]),
  ]);
  out = started[5].out;
  admin = started[5].admin;
  await eventuallyTrue(
    'two reviews endpoints at the client sidecar',
    async () => (await healthyHosts(admin, REVIEWS)) === 2,
  );
  await eventuallyTrue('greeter, db and ghost endpoints', async () => {
    const counts = await Promise.all(
      [
        'outbound|50051||greeter.default.svc.cluster.local',
        'outbound|5432||db.default.svc.cluster.local',
        'outbound|80||ghost.default.svc.cluster.local',
      ].map((c) => healthyHosts(admin, c)),
    );
    return counts.every((n) => n === 1);
  });
});

after(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  await controlPlane?.stop('SIGKILL');
  for (const a of apps) await a.close();
  await rm(dir, { recursive: true, force: true });
});

test('an app reaches a service by every name form, origin-form and as an HTTP proxy', async () => {
  const seen = new Set<string>();
  for (const host of [
    'reviews:9080',
    'reviews.default:9080',
    'reviews.default.svc.cluster.local:9080',
    'reviews.default.svc:9080',
  ]) {
    for (let i = 0; i < 4; i++) {
      const r = await request(out, { host, path: '/hello' });
      assert.equal(r.status, 200, `${host}: ${r.body}`);
      seen.add(String(r.json?.name));
    }
  }
  assert.deepEqual([...seen].sort(), ['reviews-v1', 'reviews-v2']);
  const abs = await request(out, { path: 'http://reviews.default:9080/absolute?x=1' });
  assert.equal(abs.status, 200);
  assert.equal(abs.json?.url, '/absolute?x=1');
});

test('HTTP/1.1 through two sidecars: keep-alive, chunked and large bodies both ways, 100-continue', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 10; i++)
    assert.equal((await request(out, { host: 'reviews:9080', agent })).status, 200);
  const body = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const up = await request(out, {
    host: 'reviews:9080',
    method: 'PUT',
    path: '/up',
    body,
    chunked: 65536,
    agent,
  });
  assert.equal(up.json?.bytes, body.length);
  assert.equal(up.json?.sha256, createHash('sha256').update(body).digest('hex'));
  const down = await request(out, { host: 'reviews:9080', path: `/bytes/${6 * 1024 * 1024}`, agent });
  assert.equal(down.body.length, 6 * 1024 * 1024);
  agent.destroy();
  const continued = await new Promise<number>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: out,
      method: 'POST',
      path: '/c',
      headers: { host: 'reviews:9080', expect: '100-continue', 'content-length': '3' },
    });
    req.on('continue', () => req.end('abc'));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(JSON.parse(text).bytes));
    });
    req.on('error', reject);
  });
  assert.equal(continued, 3);
});

test('a host that is no service is passed through (ALLOW_ANY); a dead app is 503 with its flags', async () => {
  // Nothing listens on loopback port 1: the passthrough's connection is refused.
  const passthrough = await request(out, { host: '127.0.0.1:1' });
  assert.equal(passthrough.status, 503);
  assert.equal(passthrough.headers['x-weft-response-flags'], 'UF');
  const uf = await request(out, { host: 'ghost' });
  assert.equal(uf.status, 503);
  assert.equal(uf.headers['x-weft-response-flags'], 'UF');
});

test('gRPC unary and all three streaming kinds keep status, trailers and error details through two hops', async () => {
  const client = grpcEchoClient(`127.0.0.1:${out}`, 'greeter:50051');
  try {
    const unary = await new Promise<{ reply: Message; trailers: grpc.Metadata }>((resolve, reject) => {
      let trailers = new grpc.Metadata();
      const call = (
        client.Unary as unknown as (
          m: Message,
          o: grpc.CallOptions,
          cb: grpc.requestCallback<Message>,
        ) => grpc.ClientUnaryCall
      )({ id: 1 }, { deadline: Date.now() + 20_000 }, (err, reply) =>
        err ? reject(err) : resolve({ reply: reply!, trailers }),
      );
      call.on('status', (s) => (trailers = s.metadata));
    });
    assert.equal(unary.reply.name, 'greeter');
    assert.equal(unary.reply.hasDeadline, true);
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      (client.Unary as unknown as (m: Message, cb: grpc.requestCallback<Message>) => void)(
        { fail: true, id: 7 },
        (e) => resolve(e!),
      ),
    );
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no such thing: 7');
    assert.deepEqual(err.metadata.get('grpc-status-details-bin')[0], ERROR_DETAILS);
    assert.equal(err.metadata.get('x-served-by')[0], 'greeter');
    const streamed = await new Promise<Message[]>((resolve, reject) => {
      const got: Message[] = [];
      const call = (client.ServerStream as unknown as (m: Message) => grpc.ClientReadableStream<Message>)({
        count: 5,
      });
      call.on('data', (m: Message) => got.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(got));
    });
    assert.deepEqual(
      streamed.map((m) => m.i),
      [0, 1, 2, 3, 4],
    );
    const counted = await new Promise<Message>((resolve, reject) => {
      const call = (
        client.ClientStream as unknown as (
          cb: grpc.requestCallback<Message>,
        ) => grpc.ClientWritableStream<Message>
      )((e, r) => (e ? reject(e) : resolve(r!)));
      for (let i = 0; i < 10; i++) call.write({ i });
      call.end();
    });
    assert.equal(counted.count, 10);
    const bidi = await new Promise<{ replies: Message[]; status: grpc.StatusObject }>((resolve, reject) => {
      const replies: Message[] = [];
      const call = (client.Bidi as unknown as () => grpc.ClientDuplexStream<Message, Message>)();
      call.on('data', (m: Message) => {
        replies.push(m);
        if (replies.length < 3) call.write({ n: replies.length });
        else call.end();
      });
      call.on('status', (status) => resolve({ replies, status }));
      call.on('error', reject);
      call.write({ n: 0 });
    });
    assert.equal(bidi.replies.length, 3);
    assert.equal(bidi.status.code, grpc.status.OK);
    assert.equal(bidi.status.metadata.get('x-served-by')[0], 'greeter');
  } finally {
    client.close();
  }
});

test('WebSocket through CONNECT (HTTP proxy) and opaque TCP through CONNECT', async () => {
  const agent = new ProxyAgent(`http://127.0.0.1:${out}`);
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket('ws://reviews:9080/chat', { dispatcher: agent });
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (ev) => {
        resolve(String(ev.data));
        ws.close();
      };
      ws.onerror = (ev) =>
        reject(new Error(`websocket error: ${(ev as unknown as { message?: string }).message}`));
    });
    assert.match(text, /^reviews-v[12]: hello$/);
  } finally {
    await agent.close();
  }
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = net.connect(out, '127.0.0.1', () =>
      s.write('CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\n\r\n'),
    );
    let data = '';
    let sent = false;
    s.on('data', (c) => {
      data += c;
      if (!sent && data.includes('\r\n\r\n')) {
        sent = true;
        s.end('SELECT 1;');
      }
    });
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  assert.match(echoed, /^HTTP\/1\.1 200/);
  assert.ok(echoed.endsWith('db: SELECT 1;'), echoed);
});

test('Istio VirtualService: 80/20 split within a few percent and header routing', async () => {
  const file = join(dir, 'reviews.yaml');
  await writeFile(
    file,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
`,
  );
  const applied = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  await eventuallyTrue('the split route at the client sidecar', async () => {
    const r = await request(out, { host: 'reviews:9080', headers: { 'end-user': 'jason' } });
    const dump = JSON.stringify(await getJson(admin, '/config_dump'));
    return (
      r.json?.name === 'reviews-v2' && dump.includes('outbound|9080|v1|reviews.default.svc.cluster.local')
    );
  });
  for (let i = 0; i < 10; i++)
    assert.equal(
      (await request(out, { host: 'reviews:9080', headers: { 'end-user': 'jason' } })).json?.name,
      'reviews-v2',
    );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  const counts: Record<string, number> = {};
  const n = 1000;
  for (let batch = 0; batch < n / 25; batch++) {
    const replies = await Promise.all(
      Array.from({ length: 25 }, () => request(out, { host: 'reviews:9080', agent })),
    );
    for (const r of replies) counts[String(r.json?.name)] = (counts[String(r.json?.name)] ?? 0) + 1;
  }
  agent.destroy();
  const share = (counts['reviews-v1'] ?? 0) / n;
  assert.ok(share > 0.75 && share < 0.85, `v1 share ${share} (${JSON.stringify(counts)})`);
});

test('a configuration change under load fails no request', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let failures = 0;
  let total = 0;
  let stop = false;
  const seen = new Set<string>();
  const load = (async () => {
    while (!stop) {
      const replies = await Promise.all(
        Array.from({ length: 4 }, () =>
          request(out, { host: 'reviews:9080', path: '/under-load', agent }).catch(() => undefined),
        ),
      );
      for (const r of replies) {
        total++;
        if (r?.status !== 200) failures++;
        else seen.add(String(r.json?.name));
      }
    }
  })();
  const file = join(dir, 'reviews-v2-only.yaml');
  await writeFile(
    file,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
`,
  );
  await new Promise((r) => setTimeout(r, 300));
  const applied = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  await eventuallyTrue('all traffic on v2', async () => {
    const rs = await Promise.all(
      Array.from({ length: 10 }, () => request(out, { host: 'reviews:9080', agent })),
    );
    return rs.every((r) => r.json?.name === 'reviews-v2');
  });
  stop = true;
  await load;
  agent.destroy();
  assert.ok(total > 50, `only ${total} requests were sent`);
  assert.equal(failures, 0, `${failures} of ${total} failed`);
});

test('SIGTERM drains: an in-flight request finishes, then the sidecar exits 0', async () => {
  const slow = await startHttpEcho('slow');
  apps.push(slow);
  const s = await sidecar(['--service', 'slow', '--app-port', String(slow.port)]);
  await eventuallyTrue(
    'the slow endpoint',
    async () => (await healthyHosts(admin, 'outbound|80||slow.default.svc.cluster.local')) === 1,
  );
  const inflight = request(out, { host: 'slow', path: '/delay/1500' });
  await new Promise((r) => setTimeout(r, 400));
  s.proc.child.kill('SIGTERM');
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.json?.name, 'slow');
  const exit = await s.proc.exited;
  assert.equal(exit.code, 0);
});

test('multi-core mode: two workers share the ports, stats add up, SIGTERM stops them all', async () => {
  const app = await startHttpEcho('multi');
  apps.push(app);
  const m = await sidecar(['--service', 'multi', '--app-port', String(app.port), '--concurrency', '2']);
  await eventuallyTrue(
    'the multi endpoint',
    async () => (await healthyHosts(admin, 'outbound|80||multi.default.svc.cluster.local')) === 1,
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const replies = await Promise.all(Array.from({ length: 40 }, () => request(out, { host: 'multi', agent })));
  agent.destroy();
  assert.deepEqual([...new Set(replies.map((r) => r.json?.name))], ['multi']);
  const stats = (await request(m.admin, { host: '127.0.0.1', path: '/stats/prometheus' })).body.toString();
  const inbound = [
    ...stats.matchAll(
      /envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="inbound[^"]*"\} (\d+)/g,
    ),
  ];
  assert.equal(inbound.length, 1, stats);
  assert.ok(Number(inbound[0][1]) >= 40, stats);
  // The workers run from the worker bundle built with the proxy's (bin/bundle.js), not from their .ts source.
  const pid = m.proc.child.pid;
  const workers = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  assert.equal(workers.length, 2, `worker processes: ${workers.join(' ')}`);
  for (const worker of workers)
    assert.match(readFileSync(`/proc/${worker}/cmdline`, 'utf8'), /\/proxy-worker\.cjs\0/);
  // Once idle, the primary's and each worker's idle release call glibc's malloc_trim through the
  // addon bin/weft.js built (bin/malloc-trim.js; gcc is in .ci/run).
  const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
    .glibcVersionRuntime;
  if (glibc)
    for (const p of [String(pid), ...workers])
      await eventuallyTrue(`process ${p}'s idle release loaded the malloc_trim addon`, () =>
        readFileSync(`/proc/${p}/maps`, 'utf8').includes('/malloc-trim-'),
      );
  m.proc.child.kill('SIGTERM');
  assert.equal((await m.proc.exited).code, 0);
  const ready = await request(m.admin, { host: '127.0.0.1', path: '/ready' }).catch(() => undefined);
  assert.equal(ready, undefined, 'the admin port is closed');
});

test('killing the control plane fails no request; the last configuration keeps serving', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let failures = 0;
  let total = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const replies = await Promise.all(
        Array.from({ length: 4 }, () => request(out, { host: 'reviews:9080', agent }).catch(() => undefined)),
      );
      for (const r of replies) {
        total++;
        if (r?.status !== 200) failures++;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await controlPlane.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  stop = true;
  await load;
  agent.destroy();
  assert.ok(total > 50, `only ${total} requests were sent`);
  assert.equal(failures, 0);
  const stats = (await request(admin, { host: '127.0.0.1', path: '/stats/prometheus' })).body.toString();
  assert.match(stats, /envoy_control_plane_connected_state\{\} 0/);
});
