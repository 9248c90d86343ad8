// HCM and route options a config may set: each is enforced on real sockets, or refused with a NACK reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { compileCluster, compileLoadAssignment } from '../../src/proxy/cluster/cluster-config.ts';
import { compileHcm } from '../../src/proxy/http/connection-manager-config.ts';
import { compileRouteTable } from '../../src/proxy/http/router/route-table.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, type EchoReply, startH2Echo, startHttpEcho } from '../helpers/echo.ts';
import {
  coreWith,
  H2_OPTIONS,
  outboundListener,
  ROUTER,
  staticCluster,
  untilClosed,
  vhost,
} from './fixtures.ts';

type Obj = Record<string, unknown>;

function hcmOf(listener: Obj): Obj {
  return (listener.filterChains as { filters: { typedConfig: Obj }[] }[])[0].filters[0].typedConfig;
}

/** A proxy whose outbound HCM gets `options`, routing `app` (HTTP/1.1) and `h2app` (HTTP/2 upstream). */
async function proxyWith(options: Obj, app: Echo, h2app: Echo): Promise<{ core: ProxyCore; port: number }> {
  const listener = outboundListener(0);
  Object.assign(hcmOf(listener), options);
  listener.address = { socketAddress: { address: '127.0.0.1', portValue: 0 } };
  const core = await coreWith({
    listeners: [listener],
    clusters: [
      staticCluster('app', [{ port: app.port }]),
      staticCluster('h2app', [{ port: h2app.port }], { typedExtensionProtocolOptions: H2_OPTIONS }),
    ],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [
          vhost('app', 80, [
            {
              match: { prefix: '/missing' },
              route: { clusterHeader: 'x-cluster', clusterNotFoundResponseCode: 'NOT_FOUND' },
            },
            { match: { prefix: '/' }, route: { cluster: 'app' } },
          ]),
          vhost('h2app', 80, [{ match: { prefix: '/' }, route: { cluster: 'h2app' } }]),
        ],
      },
    ],
  });
  return { core, port: core.listeners.get('outbound')!.port };
}

function get(
  port: number,
  host: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer from the proxy in 10 s')));
    req.on('error', reject);
  });
}

/** A raw client; `halfOpen`: it does not close its side when the proxy closes its own. */
function connect(port: number, halfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('HCM options on a running proxy', () => {
  let app: Echo;
  let h2app: Echo;
  const cores: ProxyCore[] = [];
  before(async () => {
    app = await startHttpEcho('app');
    h2app = await startH2Echo('h2app');
  });
  after(async () => {
    for (const c of cores) c.destroy();
    await app?.close();
    await h2app?.close();
  });
  const start = async (options: Obj) => {
    const p = await proxyWith(options, app, h2app);
    cores.push(p.core);
    return p.port;
  };

  test('request_timeout: a request whose body stops arriving gets 408 and is counted', async () => {
    const port = await start({ requestTimeout: { nanos: 300_000_000 } });
    const socket = await connect(port);
    socket.write('POST / HTTP/1.1\r\nhost: app\r\ncontent-length: 10\r\n\r\nabc');
    const out = await untilClosed(socket, 10_000);
    assert.match(out, /^HTTP\/1\.1 408 /, out);
    assert.match(out, /request timeout/);
    // HTTP/2: a stream left open gets 408 too; a complete request is not affected.
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const open = session.request(
        { ':method': 'POST', ':path': '/', ':authority': 'app' },
        { endStream: false },
      );
      open.write('abc');
      const status = await new Promise<number>((resolve, reject) => {
        open.on('response', (h) => resolve(Number(h[':status'])));
        open.on('error', reject);
      });
      assert.equal(status, 408);
      const done = session.request({ ':method': 'GET', ':path': '/', ':authority': 'app' });
      const ok = await new Promise<number>((resolve, reject) => {
        done.on('response', (h) => resolve(Number(h[':status'])));
        done.on('error', reject);
      });
      done.resume();
      assert.equal(ok, 200);
    } finally {
      session.destroy();
    }
  });

  test('via and always_set_request_id_in_response go on requests and responses', async () => {
    const port = await start({ via: 'weft-test', alwaysSetRequestIdInResponse: true });
    const r = await get(port, 'app', '/', { via: '1.1 client' });
    const seen = JSON.parse(r.body) as EchoReply;
    assert.equal(seen.headers.via, '1.1 client, weft-test');
    assert.match(String(r.headers.via), /weft-test/);
    assert.equal(r.headers['x-request-id'], seen.headers['x-request-id']);
    assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const missing = await get(port, 'app', '/missing', { 'x-cluster': 'nope' });
    assert.equal(missing.status, 404, 'cluster_not_found_response_code NOT_FOUND');
    assert.ok(missing.headers['x-request-id'], 'a local reply carries the request id too');
  });

  test('use_remote_address: an internal client keeps its request id; x-forwarded-for reaches HTTP/1.1 and HTTP/2 upstreams', async () => {
    const port = await start({ useRemoteAddress: { value: true } });
    for (const host of ['app', 'h2app']) {
      const r = await get(port, host, '/', { 'x-request-id': 'mine', 'x-forwarded-for': '10.1.1.1' });
      const seen = JSON.parse(r.body) as EchoReply;
      assert.equal(seen.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.1', host);
      assert.equal(seen.headers['x-envoy-internal'], 'true', host);
      assert.equal(seen.headers['x-request-id'], 'mine', host);
    }
  });

  test('use_remote_address with internal_address_config: an external client loses its request id and internal-only headers', async () => {
    const port = await start({
      useRemoteAddress: { value: true },
      internalAddressConfig: { cidrRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } }] },
    });
    const forged = { 'x-request-id': 'forged', 'x-envoy-internal': 'true', 'x-envoy-retry-on': '5xx' };
    const seen = JSON.parse((await get(port, 'app', '/', forged)).body) as EchoReply;
    assert.notEqual(seen.headers['x-request-id'], 'forged');
    assert.equal(seen.headers['x-envoy-internal'], undefined);
    assert.equal(seen.headers['x-envoy-retry-on'], undefined);
    assert.equal(seen.headers['x-envoy-external-address'], '127.0.0.1');
    const kept = await start({
      useRemoteAddress: { value: true },
      preserveExternalRequestId: true,
      internalAddressConfig: { cidrRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } }] },
    });
    const again = JSON.parse((await get(kept, 'app', '/', forged)).body) as EchoReply;
    assert.equal(again.headers['x-request-id'], 'forged', 'preserve_external_request_id');
  });

  test('delayed_close_timeout: a client that does not close after `connection: close` is closed for it', async () => {
    const port = await start({ delayedCloseTimeout: { nanos: 200_000_000 } });
    const socket = await connect(port, true);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const closed = new Promise<string>((resolve) => {
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      socket.on('close', () => resolve('closed'));
    });
    socket.write('GET / HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n');
    await new Promise((resolve) => socket.once('end', resolve));
    assert.match(out, /^HTTP\/1\.1 200 /);
    // The client never ends its side. Once the proxy has given up on it (200 ms), a write meets
    // a closed socket; without the delayed close the proxy would keep it for
    // stream_idle_timeout (5 min) and the write would go unanswered.
    // (The first write after the close only draws the reset; a later one fails.)
    await new Promise((resolve) => setTimeout(resolve, 700));
    const writer = setInterval(() => socket.write('x'), 100);
    const bound = setTimeout(() => socket.destroy(new Error('still open 5 s after the delayed close')), 5000);
    const outcome = await closed;
    clearInterval(writer);
    clearTimeout(bound);
    assert.match(outcome, /^(ECONNRESET|EPIPE|closed)$/, outcome);
  });
});

describe('options weft does not implement are refused, not ignored', () => {
  const hcm = (extra: Obj) => ({
    statPrefix: 's',
    rds: { routeConfigName: 'r' },
    httpFilters: [{ name: 'router', typedConfig: { '@type': ROUTER } }],
    ...extra,
  });
  for (const [field, extra] of [
    ['drain_timeout', { drainTimeout: { seconds: 1 } }],
    ['http2_protocol_options', { http2ProtocolOptions: { allowConnect: true } }],
    ['http_protocol_options', { httpProtocolOptions: { acceptHttp_10: true } }],
    ['local_reply_config', { localReplyConfig: { mappers: [{ statusCode: { value: 500 } }] } }],
    ['stream_error_on_invalid_http_message', { streamErrorOnInvalidHttpMessage: { value: false } }],
  ] as const) {
    test(`HCM ${field}`, () => {
      assert.throws(() => compileHcm(hcm(extra), 'HCM', 80), new RegExp(field));
    });
  }
  test('HCM defaults and an empty protocol options message are accepted', () => {
    compileHcm(hcm({ httpProtocolOptions: {}, streamErrorOnInvalidHttpMessage: { value: true } }), 'HCM', 80);
  });
  const route = (action: Obj) => ({
    name: 'r',
    virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: action }] }],
  });
  test('route priority HIGH, a per-route idle_timeout and an unknown cluster_not_found_response_code', () => {
    assert.throws(() => compileRouteTable(route({ cluster: 'c', priority: 'HIGH' })), /priority/);
    assert.throws(
      () => compileRouteTable(route({ cluster: 'c', idleTimeout: { seconds: 5 } })),
      /idle_timeout/,
    );
    assert.throws(
      () => compileRouteTable(route({ cluster: 'c', clusterNotFoundResponseCode: 7 })),
      /cluster_not_found_response_code/,
    );
    compileRouteTable(route({ cluster: 'c', priority: 'DEFAULT', idleTimeout: {} }));
  });
  test('locality-weighted balancing and dropped overloads', () => {
    assert.throws(
      () => compileCluster({ name: 'c', type: 'EDS', commonLbConfig: { localityWeightedLbConfig: {} } }),
      /locality_weighted_lb_config/,
    );
    assert.throws(
      () =>
        compileLoadAssignment({
          clusterName: 'c',
          policy: { dropOverloads: [{ category: 'x', dropPercentage: { numerator: 10 } }] },
        }),
      /drop_overloads/,
    );
    compileLoadAssignment({ clusterName: 'c', policy: { overprovisioningFactor: { value: 140 } } });
  });
});
