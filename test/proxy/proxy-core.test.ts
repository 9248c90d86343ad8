// The proxy core fed Envoy-shaped config directly, exercised with real sockets: routing, errors, bodies, protocols.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { type Echo, startH2Echo, startHttpEcho, startTcpEcho } from '../helpers/echo.ts';
import { h2request, request } from '../helpers/http-client.ts';
import {
  coreWith,
  H2_OPTIONS,
  HCM,
  HTTP_INSPECTOR,
  inboundListener,
  outboundListener,
  ROUTER,
  staticCluster,
  TCP_PROXY,
  vhost,
} from './fixtures.ts';

let core: ProxyCore;
let out: number;
let inbound: number;
let tcpInbound: number;
const apps: Echo[] = [];
let v1: Echo;
let v2: Echo;
let h2: Echo;
let tcp: Echo;
let deadPort: number;

function routes(defaultCluster = 'svc-a'): Record<string, unknown> {
  return {
    name: 'outbound',
    virtualHosts: [
      vhost('a', 80, [
        {
          name: 'connect',
          match: { connectMatcher: {} },
          route: { cluster: 'tcp-in', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] },
        },
        {
          name: 'v2',
          match: { prefix: '/', headers: [{ name: 'x-version', stringMatch: { exact: 'v2' } }] },
          route: { cluster: 'svc-b', timeout: {} },
        },
        {
          name: 'slow',
          match: { prefix: '/slow' },
          route: { cluster: 'svc-a', timeout: { nanos: 500_000_000 }, prefixRewrite: '/delay' },
        },
        {
          name: 'rewrite',
          match: { prefix: '/old/' },
          route: { cluster: 'svc-a', prefixRewrite: '/new/', hostRewriteLiteral: 'rewritten.example' },
        },
        { name: 'default', match: { prefix: '/' }, route: { cluster: defaultCluster, timeout: {} } },
      ]),
      vhost('split', 80, [
        {
          name: 'split',
          match: { prefix: '/' },
          route: {
            weightedClusters: {
              clusters: [
                { name: 'svc-a', weight: { value: 80 } },
                { name: 'svc-b', weight: { value: 20 } },
              ],
            },
          },
        },
      ]),
      vhost('h2', 80, [{ match: { prefix: '/' }, route: { cluster: 'svc-h2' } }]),
      vhost('dead', 80, [{ match: { prefix: '/' }, route: { cluster: 'dead' } }]),
      vhost('empty', 80, [{ match: { prefix: '/' }, route: { cluster: 'empty' } }]),
      vhost('inbound', 80, [{ match: { prefix: '/' }, route: { cluster: 'inbound-listener' } }]),
    ],
  };
}

function tcpInboundListener(): Record<string, unknown> {
  return {
    name: 'inbound-tcp',
    address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
    listenerFilters: [
      { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR } },
    ],
    filterChains: [
      {
        filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] },
        filters: [
          {
            name: 'hcm',
            typedConfig: {
              '@type': HCM,
              statPrefix: 'inbound-tcp-http',
              routeConfig: {
                name: 'x',
                virtualHosts: [
                  {
                    name: 'x',
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, route: { cluster: 'svc-a' } }],
                  },
                ],
              },
              httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
            },
          },
        ],
      },
    ],
    defaultFilterChain: {
      filters: [{ name: 'tcp', typedConfig: { '@type': TCP_PROXY, statPrefix: 'tcp', cluster: 'tcp' } }],
    },
  };
}

before(async () => {
  v1 = await startHttpEcho('v1');
  v2 = await startHttpEcho('v2');
  h2 = await startH2Echo('h2');
  tcp = await startTcpEcho('tcp');
  apps.push(v1, v2, h2, tcp);
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  core = await coreWith({
    listeners: [outboundListener(0), inboundListener(0, 9080), tcpInboundListener()],
    clusters: [
      staticCluster('svc-a', [{ port: v1.port }]),
      staticCluster('svc-b', [{ port: v2.port }]),
      staticCluster('svc-h2', [{ port: h2.port }], { typedExtensionProtocolOptions: H2_OPTIONS }),
      staticCluster('dead', [{ port: deadPort }]),
      staticCluster('empty', []),
      staticCluster('tcp', [{ port: tcp.port }]),
      staticCluster('inbound|9080||', [{ port: v1.port }]),
    ],
    routes: [routes()],
  });
  out = core.listeners.get('outbound')!.port;
  inbound = core.listeners.get('inbound')!.port;
  tcpInbound = core.listeners.get('inbound-tcp')!.port;
  // Clusters that point at the proxy's own listeners (known only after binding).
  await core.apply(
    TYPE_URL.cluster,
    [
      ...[
        staticCluster('svc-a', [{ port: v1.port }]),
        staticCluster('svc-b', [{ port: v2.port }]),
        staticCluster('svc-h2', [{ port: h2.port }], { typedExtensionProtocolOptions: H2_OPTIONS }),
        staticCluster('dead', [{ port: deadPort }]),
        staticCluster('empty', []),
        staticCluster('tcp', [{ port: tcp.port }]),
        staticCluster('inbound|9080||', [{ port: v1.port }]),
        staticCluster('inbound-listener', [{ port: inbound }]),
        staticCluster('tcp-in', [{ port: tcpInbound }]),
      ].map((body) => ({ name: String(body.name), body })),
    ],
    '2',
    true,
  );
});

after(async () => {
  core?.destroy();
  for (const a of apps) await a.close();
});

test('routes by Host with and without the port, and absolute-form requests', async () => {
  const r1 = await request(out, { host: 'a', path: '/x' });
  assert.equal(r1.status, 200);
  assert.equal(r1.json?.name, 'v1');
  const r2 = await request(out, { host: 'a:80', path: '/y?q=1' });
  assert.equal(r2.json?.url, '/y?q=1');
  const r3 = await request(out, { path: 'http://a/abs?z=2' });
  assert.equal(r3.json?.url, '/abs?z=2');
  assert.equal(r3.json?.host, 'a');
  const headers = r1.json?.headers as Record<string, string>;
  assert.match(headers['x-request-id'], /^[0-9a-f-]{36}$/);
  assert.equal(headers['x-forwarded-proto'], 'http');
});

test('no route is a 404 with response flag NR', async () => {
  const r = await request(out, { host: 'unknown.example', path: '/' });
  assert.equal(r.status, 404);
  assert.equal(r.headers['x-weft-response-flags'], 'NR');
});

test('header match routes to another cluster; prefix and host rewrite', async () => {
  const r = await request(out, { host: 'a', headers: { 'x-version': 'v2' } });
  assert.equal(r.json?.name, 'v2');
  const w = await request(out, { host: 'a', path: '/old/thing' });
  assert.equal(w.json?.url, '/new/thing');
  assert.equal(w.json?.host, 'rewritten.example');
});

test('80/20 weighted split lands within a few percent', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  const n = 2000;
  for (let batch = 0; batch < n / 50; batch++) {
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => request(out, { host: 'split', agent })),
    );
    for (const r of replies) counts[String(r.json?.name)]++;
  }
  agent.destroy();
  const share = counts.v1 / n;
  assert.ok(share > 0.75 && share < 0.85, `v1 share ${share}`);
});

test('connection failure is 503 UF; no endpoints is 503 UH', async () => {
  const dead = await request(out, { host: 'dead' });
  assert.equal(dead.status, 503);
  assert.equal(dead.headers['x-weft-response-flags'], 'UF');
  assert.match(dead.body.toString(), /connection failure/);
  const empty = await request(out, { host: 'empty' });
  assert.equal(empty.status, 503);
  assert.equal(empty.headers['x-weft-response-flags'], 'UH');
});

test('route timeout is a 504 UT', async () => {
  const r = await request(out, { host: 'a', path: '/slow/2000' });
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-weft-response-flags'], 'UT');
  const fast = await request(out, { host: 'a', path: '/slow/1' });
  assert.equal(fast.status, 200);
});

test('route timeouts on one keep-alive connection: each request gets its own, fired or not', async () => {
  // One downstream connection re-arms one timer per request (refresh), so a timer that fired, or
  // one left over from a request that finished, must neither go off early nor miss the next one.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const stats = core.httpStats.get(`outbound_127.0.0.1_0`);
  const cxBefore = stats.cxTotal;
  try {
    const first = await request(out, { host: 'a', path: '/slow/2000', agent });
    assert.equal(first.status, 504);
    // Each answer is at least 125 ms under the 500 ms timeout (slack for a loaded machine), and
    // together they outlast the 1 ms request's timer: one left armed would fire during the last.
    for (const ms of [1, 300, 375]) {
      const r = await request(out, { host: 'a', path: `/slow/${ms}`, agent });
      assert.equal(r.status, 200, `a ${ms} ms answer under the 500 ms timeout`);
    }
    const t0 = performance.now();
    const again = await request(out, { host: 'a', path: '/slow/2000', agent });
    const took = performance.now() - t0;
    assert.equal(again.status, 504);
    assert.equal(again.headers['x-weft-response-flags'], 'UT');
    assert.ok(took >= 375 && took < 1900, `504 after ${took.toFixed(0)} ms`);
    assert.equal(stats.cxTotal - cxBefore, 1, 'every request used the same downstream connection');
  } finally {
    agent.destroy();
  }
});

test('keep-alive: many requests share one downstream connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const stats = core.httpStats.get(`outbound_127.0.0.1_0`);
  const before = stats.cxTotal;
  for (let i = 0; i < 20; i++) assert.equal((await request(out, { host: 'a', agent })).status, 200);
  agent.destroy();
  assert.equal(stats.cxTotal - before, 1);
});

test('large chunked upload and large streamed download arrive intact', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  const up = await request(out, { host: 'a', method: 'POST', path: '/upload', body, chunked: 100_000 });
  assert.equal(up.json?.bytes, body.length);
  assert.equal(up.json?.sha256, createHash('sha256').update(body).digest('hex'));
  const down = await request(out, { host: 'a', path: `/bytes/${5 * 1024 * 1024}` });
  assert.equal(down.body.length, 5 * 1024 * 1024);
});

test('Expect: 100-continue is answered and the body goes through', async () => {
  const result = await new Promise<{ continued: boolean; json: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: out,
        method: 'POST',
        path: '/c',
        headers: { host: 'a', expect: '100-continue', 'content-length': '5' },
      });
      let continued = false;
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ continued, json: JSON.parse(text) }));
      });
      req.on('error', reject);
    },
  );
  assert.equal(result.continued, true);
  assert.equal(result.json.bytes, 5);
});

test('HTTP/1.1 pipelined requests are answered in order', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect(out, '127.0.0.1', () => {
      s.write(
        'GET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
      );
    });
    let data = '';
    s.on('data', (c) => (data += c));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  const one = text.indexOf('"url":"/one"');
  const two = text.indexOf('"url":"/two"');
  assert.ok(one > 0 && two > one, text);
});

test('h2c client to an HTTP/2 upstream keeps trailers; h2c to HTTP/1.1 and HTTP/1.1 to h2 work', async () => {
  const t = await h2request(out, { authority: 'h2', path: '/trailers' });
  assert.equal(t.status, 200);
  assert.equal(t.json?.name, 'h2');
  assert.equal(t.trailers['x-trailer'], 'yes');
  const toH1 = await h2request(out, { authority: 'a', path: '/from-h2', method: 'POST', body: 'abc' });
  assert.equal(toH1.json?.name, 'v1');
  assert.equal(toH1.json?.bytes, 3);
  const toH2 = await request(out, { host: 'h2', path: '/from-h1', method: 'POST', body: 'hello' });
  assert.equal(toH2.json?.name, 'h2');
  assert.equal(toH2.json?.bytes, 5);
});

test('two hops: outbound → inbound listener (http_inspector) → app', async () => {
  const r = await request(out, { host: 'inbound', path: '/via-inbound' });
  assert.equal(r.json?.name, 'v1');
  const h = await h2request(inbound, { authority: 'anything', path: '/h2-inbound' });
  assert.equal(h.json?.name, 'v1');
});

test('WebSocket upgrade tunnels frames after 101', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(out, '127.0.0.1', () => {
      s.write(
        'GET /ws HTTP/1.1\r\nhost: a\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    let data = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
      const text = data.toString('latin1');
      if (text.includes('\r\n\r\n') && !text.includes('v1: hi')) {
        // Send a masked text frame "hi".
        const mask = [1, 2, 3, 4];
        s.write(Buffer.from([0x81, 0x82, ...mask, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]));
      }
      if (text.includes('v1: hi')) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
  });
  assert.match(reply, /^HTTP\/1\.1 101/);
  assert.match(reply, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
});

test('CONNECT tunnels opaque bytes to a TCP app through the inbound default chain', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect(out, '127.0.0.1', () => s.write('CONNECT a:80 HTTP/1.1\r\nhost: a:80\r\n\r\n'));
    let data = '';
    let sent = false;
    s.on('data', (c) => {
      data += c;
      if (!sent && data.startsWith('HTTP/1.1 200')) {
        sent = true;
        s.end('\x00\x01binary-ping');
      }
    });
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  assert.match(text, /^HTTP\/1\.1 200/);
  assert.ok(text.endsWith('tcp: \x00\x01binary-ping'), JSON.stringify(text));
});

test('opaque TCP on an inbound listener goes to the default chain, half-close passes', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: tcpInbound, host: '127.0.0.1', allowHalfOpen: true }, () =>
      s.end('\x16not-http\n'),
    );
    let data = '';
    s.on('data', (c) => (data += c));
    s.on('end', () => {
      s.end();
      resolve(data);
    });
    s.on('error', reject);
  });
  assert.equal(text, 'tcp: \x16not-http\n');
});

test('a new route config applies to new requests without failing one in flight', async () => {
  const inflight = request(out, { host: 'a', path: '/delay/400' });
  await new Promise((r) => setTimeout(r, 100));
  await core.apply(TYPE_URL.route, [{ name: 'outbound', body: routes('svc-b') }], '3', false);
  const after = await request(out, { host: 'a', path: '/now' });
  assert.equal(after.json?.name, 'v2');
  const first = await inflight;
  assert.equal(first.status, 200);
  assert.equal(first.json?.name, 'v1');
  await core.apply(TYPE_URL.route, [{ name: 'outbound', body: routes() }], '4', false);
});

test('an unsupported field is rejected with its name and the last config keeps serving', async () => {
  const bad = staticCluster('svc-a', [{ port: v2.port }], { transportSocket: { name: 'tls' } });
  await assert.rejects(
    core.apply(TYPE_URL.cluster, [{ name: 'svc-a', body: bad }], '5', true),
    /transport_socket/,
  );
  const r = await request(out, { host: 'a', path: '/still' });
  assert.equal(r.json?.name, 'v1');
});

test('an HTTP/1.0 client gets a chunked upstream body de-chunked and close-delimited', async () => {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect(out, '127.0.0.1', () => s.write('GET /bytes/100000 HTTP/1.0\r\nhost: a\r\n\r\n'));
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, headEnd).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.doesNotMatch(head, /transfer-encoding/i);
  assert.match(head, /connection: close/i);
  assert.equal(raw.length - headEnd - 4, 100000);
});

test('an h2c upgrade request (curl --http2) is served as HTTP/1.1, as Envoy does', async () => {
  const r = await request(out, {
    host: 'a',
    path: '/h2c-upgrade',
    headers: {
      connection: 'Upgrade, HTTP2-Settings',
      upgrade: 'h2c',
      'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.json?.url, '/h2c-upgrade');
  const headers = r.json?.headers as Record<string, string>;
  assert.equal(headers.upgrade, undefined);
  assert.equal(headers['http2-settings'], undefined);
});
