// Retries on retriable status codes and outlier detection, through the proxy core with real sockets.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { request } from '../helpers/http-client.ts';
import { coreWith, outboundListener, staticCluster, vhost } from './fixtures.ts';

let core: ProxyCore;
let out: number;
let good: Echo;
let good2: Echo;
let good3: Echo;
let bad: http.Server;
let badPort: number;
let badHits = 0;
let shadow: http.Server;
let hang: net.Server;
const hung = new Set<net.Socket>();
const shadowed: { host: string; body: string }[] = [];

before(async () => {
  good = await startHttpEcho('good');
  good2 = await startHttpEcho('good2');
  good3 = await startHttpEcho('good3');
  bad = http.createServer((_req, res) => {
    badHits++;
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('overloaded');
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', () => r()));
  badPort = (bad.address() as net.AddressInfo).port;
  shadow = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      shadowed.push({ host: req.headers.host ?? '', body });
      res.end('ignored');
    });
  });
  await new Promise<void>((r) => shadow.listen(0, '127.0.0.1', () => r()));
  const shadowPort = (shadow.address() as net.AddressInfo).port;
  // Accepts connections and never answers.
  hang = net.createServer((s) => {
    hung.add(s);
    s.on('close', () => hung.delete(s));
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
  const hangPort = (hang.address() as net.AddressInfo).port;
  core = await coreWith({
    listeners: [outboundListener(0)],
    clusters: [
      staticCluster('flaky', [{ port: badPort }, { port: good.port }]),
      staticCluster('good', [{ port: good.port }]),
      staticCluster('slowpoke', [{ port: hangPort }, { port: good.port }]),
      staticCluster('hc', [{ port: badPort }, { port: good.port }], {
        healthChecks: [
          {
            interval: { nanos: 100_000_000 },
            timeout: { seconds: 1 },
            unhealthyThreshold: { value: 1 },
            healthyThreshold: { value: 1 },
            httpHealthCheck: { path: '/healthz' },
          },
        ],
      }),
      staticCluster('ring', [{ port: good.port }, { port: good2.port }, { port: good3.port }], {
        lbPolicy: 'RING_HASH',
      }),
      staticCluster('maglev', [{ port: good.port }, { port: good2.port }, { port: good3.port }], {
        lbPolicy: 'MAGLEV',
      }),
      staticCluster('shadow', [{ port: shadowPort }]),
      staticCluster('cb', [{ port: good.port }], {
        circuitBreakers: { thresholds: [{ maxConnections: { value: 1 }, maxPendingRequests: { value: 1 } }] },
      }),
      staticCluster('od', [{ port: badPort }, { port: good.port }], {
        outlierDetection: {
          consecutive5xx: { value: 3 },
          interval: { seconds: 1 },
          baseEjectionTime: { seconds: 30 },
          maxEjectionPercent: { value: 50 },
          enforcingSuccessRate: { value: 0 },
        },
      }),
    ],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [
          vhost('retry', 80, [
            {
              match: { prefix: '/' },
              route: {
                cluster: 'flaky',
                retryPolicy: {
                  retryOn: 'connect-failure,retriable-status-codes',
                  numRetries: { value: 2 },
                  retriableStatusCodes: [503],
                },
              },
            },
          ]),
          vhost('noretry', 80, [{ match: { prefix: '/' }, route: { cluster: 'flaky' } }]),
          vhost('od', 80, [{ match: { prefix: '/' }, route: { cluster: 'od' } }]),
          vhost('cb', 80, [{ match: { prefix: '/' }, route: { cluster: 'cb' } }]),
          vhost('pertry', 80, [
            {
              match: { prefix: '/' },
              route: {
                cluster: 'slowpoke',
                timeout: { seconds: 10 },
                retryPolicy: {
                  retryOn: 'gateway-error',
                  numRetries: { value: 2 },
                  perTryTimeout: { nanos: 200_000_000 },
                },
              },
            },
          ]),
          vhost('hc', 80, [{ match: { prefix: '/' }, route: { cluster: 'hc' } }]),
          vhost('sticky', 80, [
            {
              match: { prefix: '/' },
              route: {
                cluster: 'ring',
                hashPolicy: [{ header: { headerName: 'x-user' } }, { queryParameter: { name: 'u' } }],
              },
            },
          ]),
          vhost('cookie', 80, [
            {
              match: { prefix: '/' },
              route: {
                cluster: 'maglev',
                hashPolicy: [{ cookie: { name: 'sticky', ttl: { seconds: 60 }, path: '/' } }],
              },
            },
          ]),
          vhost('mirrored', 80, [
            {
              match: { prefix: '/' },
              route: {
                cluster: 'good',
                requestMirrorPolicies: [
                  { cluster: 'shadow', runtimeFraction: { defaultValue: { numerator: 100 } } },
                ],
              },
            },
          ]),
        ],
      },
    ],
  });
  out = core.listeners.get('outbound')!.port;
});

after(async () => {
  core?.destroy();
  await good.close();
  await good2.close();
  await good3.close();
  bad.closeAllConnections();
  shadow.closeAllConnections();
  for (const s of hung) s.destroy();
  await new Promise<void>((r) => hang.close(() => r()));
  await new Promise<void>((r) => shadow.close(() => r()));
  await new Promise<void>((r) => bad.close(() => r()));
});

test('a 503 from one host is retried on another (retriable-status-codes)', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 20; i++) {
    const r = await request(out, { host: 'retry', agent });
    assert.equal(r.status, 200, r.body.toString());
  }
  agent.destroy();
  assert.ok(badHits > 0, 'the failing host was tried');
  assert.ok(core.clusters.get('flaky')!.stats.rqRetry > 0);
  const statuses = new Set<number>();
  for (let i = 0; i < 6; i++) statuses.add((await request(out, { host: 'noretry' })).status);
  assert.deepEqual([...statuses].sort(), [200, 503], 'without a retry policy the 503 reaches the client');
});

test('outlier detection ejects a host after consecutive 5xx', async () => {
  const results: number[] = [];
  for (let i = 0; i < 30; i++) results.push((await request(out, { host: 'od' })).status);
  assert.ok(results.slice(0, 8).includes(503), 'the bad host served before its ejection');
  assert.deepEqual(
    results.slice(-15),
    new Array(15).fill(200),
    `after ejection only the good host serves: ${results}`,
  );
  assert.equal(core.clusters.get('od')!.ejections, 1);
});

test('circuit breakers: max_connections 1 and max_pending_requests 1 overflow the rest with 503 UO', async () => {
  const replies = await Promise.all(
    Array.from({ length: 4 }, () => request(out, { host: 'cb', path: '/delay/300' })),
  );
  const ok = replies.filter((r) => r.status === 200).length;
  const overflow = replies.filter(
    (r) => r.status === 503 && r.headers['x-weft-response-flags'] === 'UO',
  ).length;
  assert.equal(ok, 2, 'one on the connection, one waiting for it');
  assert.equal(overflow, 2);
  assert.equal(core.clusters.get('cb')!.stats.cxTotal, 1, 'the waiting request reused the one connection');
});

test('request mirroring sends a copy (body included) to the shadow cluster with a -shadow host', async () => {
  const r = await request(out, { host: 'mirrored:80', method: 'POST', body: 'copy me', chunked: 3 });
  assert.equal(r.json?.name, 'good');
  const g = await request(out, { host: 'mirrored', path: '/get' });
  assert.equal(g.status, 200);
  const deadline = Date.now() + 5000;
  while (shadowed.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(shadowed.map((s) => s.host).sort(), ['mirrored-shadow', 'mirrored-shadow:80']);
  assert.ok(shadowed.some((s) => s.body === 'copy me'));
});

test('active health checks take a failing host out of rotation', async () => {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const hosts = core.clusters.get('hc')!.allHosts();
    if (hosts.length === 2 && hosts.filter((h) => h.healthy).length === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const before = badHits;
  for (let i = 0; i < 10; i++) assert.equal((await request(out, { host: 'hc' })).status, 200);
  // Only health-check probes reach the failing host now, never a request.
  const probes = badHits - before;
  assert.ok(probes < 10, `the failing host still got traffic (${probes})`);
  assert.ok(core.clusters.get('hc')!.stats.hcFailure > 0);
});

test('ring hash on a header (and query parameter) keeps a user on one host; users spread', async () => {
  const hostFor = async (headers: Record<string, string>, path = '/') =>
    String((await request(out, { host: 'sticky', headers, path })).json?.name);
  const first = await hostFor({ 'x-user': 'alice' });
  for (let i = 0; i < 10; i++) assert.equal(await hostFor({ 'x-user': 'alice' }), first);
  const byQuery = await hostFor({}, '/?u=bob');
  for (let i = 0; i < 5; i++) assert.equal(await hostFor({}, '/?u=bob'), byQuery);
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) seen.add(await hostFor({ 'x-user': `user-${i}` }));
  assert.ok(seen.size >= 2, `30 users all landed on ${[...seen]}`);
});

test('maglev with a generated cookie: the first answer sets it, later requests stick', async () => {
  const first = await request(out, { host: 'cookie' });
  const setCookie = String(first.headers['set-cookie'] ?? '');
  assert.match(setCookie, /^sticky="[0-9a-f]+"; Max-Age=60; Path=\/; HttpOnly$/);
  const cookie = setCookie.split(';')[0];
  const host = String((await request(out, { host: 'cookie', headers: { cookie } })).json?.name);
  for (let i = 0; i < 10; i++)
    assert.equal((await request(out, { host: 'cookie', headers: { cookie } })).json?.name, host);
});

test('per_try_timeout abandons a silent host and retries on another', async () => {
  for (let i = 0; i < 6; i++) {
    const started = Date.now();
    const r = await request(out, { host: 'pertry' });
    assert.equal(r.status, 200);
    assert.equal(r.json?.name, 'good');
    assert.ok(Date.now() - started < 5000);
  }
  assert.ok(core.clusters.get('slowpoke')!.stats.rqTimeout > 0, 'some attempt timed out');
});
