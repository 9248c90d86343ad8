// envoy.filters.http.fault through the proxy core: per-route aborts and delays, percentages, header matches, gRPC.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { request } from '../helpers/http-client.ts';
import { coreWith, HCM, ROUTER, staticCluster, vhost } from './fixtures.ts';

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
let core: ProxyCore;
let out: number;
let app: Echo;

function faultRoute(fault: Record<string, unknown>): Record<string, unknown> {
  return {
    match: { prefix: '/' },
    route: { cluster: 'app', timeout: {} },
    typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, ...fault } },
  };
}

before(async () => {
  app = await startHttpEcho('app');
  const listener = {
    name: 'outbound',
    address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: 'fault',
              rds: { configSource: { ads: {} }, routeConfigName: 'outbound' },
              httpFilters: [
                // Istio's shape: the filter in the chain with an empty config, the faults per route.
                { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
                { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
              ],
            },
          },
        ],
      },
    ],
  };
  core = await coreWith({
    listeners: [listener],
    clusters: [staticCluster('app', [{ port: app.port }])],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [
          vhost('abort', 80, [faultRoute({ abort: { httpStatus: 418, percentage: { numerator: 100 } } })]),
          vhost('delay', 80, [
            faultRoute({ delay: { fixedDelay: { nanos: 300_000_000 }, percentage: { numerator: 100 } } }),
          ]),
          vhost('half', 80, [
            faultRoute({
              abort: { httpStatus: 503, percentage: { numerator: 500000, denominator: 'MILLION' } },
            }),
          ]),
          vhost('both', 80, [
            faultRoute({
              delay: { fixedDelay: { nanos: 200_000_000 }, percentage: { numerator: 100 } },
              abort: { httpStatus: 504, percentage: { numerator: 100 } },
            }),
          ]),
          vhost('grpc', 80, [faultRoute({ abort: { grpcStatus: 14, percentage: { numerator: 100 } } })]),
          vhost('hdr', 80, [
            faultRoute({
              headers: [{ name: 'x-fault', stringMatch: { exact: 'yes' } }],
              abort: { httpStatus: 500, percentage: { numerator: 100 } },
            }),
          ]),
          vhost('plain', 80, [{ match: { prefix: '/' }, route: { cluster: 'app', timeout: {} } }]),
        ],
      },
    ],
  });
  out = core.listeners.get('outbound')!.port;
});

after(async () => {
  core?.destroy();
  await app.close();
});

test('an abort answers with its status and flag FI, without reaching the app', async () => {
  const r = await request(out, { host: 'abort' });
  assert.equal(r.status, 418);
  assert.equal(r.headers['x-weft-response-flags'], 'FI');
  assert.equal((await request(out, { host: 'plain' })).status, 200, 'routes without a fault are untouched');
});

test('a delay holds the request (StopIteration), then it goes through', async () => {
  const started = Date.now();
  const r = await request(out, { host: 'delay', method: 'POST', body: 'during the delay' });
  assert.equal(r.status, 200);
  assert.equal(r.json?.bytes, 16);
  assert.ok(Date.now() - started >= 250, `answered after ${Date.now() - started} ms`);
  const both = await request(out, { host: 'both' });
  assert.equal(both.status, 504);
});

test('percentages: a 50% abort fails about half the requests', async () => {
  let failed = 0;
  const n = 400;
  for (let i = 0; i < n; i++) if ((await request(out, { host: 'half' })).status === 503) failed++;
  assert.ok(failed / n > 0.4 && failed / n < 0.6, `aborted ${failed} of ${n}`);
});

test('header matches limit the fault to matching requests', async () => {
  assert.equal((await request(out, { host: 'hdr', headers: { 'x-fault': 'yes' } })).status, 500);
  assert.equal((await request(out, { host: 'hdr', headers: { 'x-fault': 'no' } })).status, 200);
});

test('a gRPC abort is a trailers-only answer with the given grpc-status', async () => {
  const session = http2.connect(`http://127.0.0.1:${out}`);
  try {
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const s = session.request({
        ':method': 'POST',
        ':path': '/pkg.Svc/Call',
        ':authority': 'grpc',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      s.on('response', resolve);
      s.on('error', reject);
      s.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '14');
  } finally {
    session.close();
  }
});

test('a per-route config of an unknown filter type is rejected naming it', async () => {
  const bad = {
    name: 'outbound',
    virtualHosts: [
      vhost('x', 80, [
        {
          match: { prefix: '/' },
          route: { cluster: 'app' },
          typedPerFilterConfig: {
            'envoy.filters.http.lua': {
              '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute',
            },
          },
        },
      ]),
    ],
  };
  await assert.rejects(
    core.apply(TYPE_URL.route, [{ name: 'outbound', body: bad }], '9', false),
    /typed_per_filter_config\['envoy\.filters\.http\.lua'\]/,
  );
});
