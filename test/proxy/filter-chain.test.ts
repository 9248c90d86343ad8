// The HTTP filter chain per request: route-only filters (CORS, fault without listener faults) run only where a route configures them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { corsFilterFactory } from '../../src/proxy/http/filters/cors/cors-filter.ts';
import { faultFilterFactory } from '../../src/proxy/http/filters/fault/fault-filter.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { request } from '../helpers/http-client.ts';
import { coreWith, filterListener, staticCluster, vhost } from './fixtures.ts';

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const CORS_POLICY = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
const ABORT_ALL = { abort: { httpStatus: 418, percentage: { numerator: 100 } } };

describe('which filters are route-only', () => {
  test('CORS always (its listener config is empty; policies come per route)', () => {
    assert.equal(corsFilterFactory.parse('cors', { '@type': CORS }, 'x')?.routeOnly, true);
  });

  test('fault without a delay or an abort of its own; with one it runs on every route', () => {
    assert.equal(faultFilterFactory.parse('fault', { '@type': FAULT }, 'x')?.routeOnly, true);
    assert.equal(faultFilterFactory.parse('fault', { '@type': FAULT, ...ABORT_ALL }, 'x')?.routeOnly, false);
  });
});

describe('through the proxy core', () => {
  let core: ProxyCore;
  let withFaults: number;
  let routeOnly: number;
  let app: Echo;
  const direct = (status: number) => ({ status, body: { inlineString: String(status) } });

  before(async () => {
    app = await startHttpEcho('app');
    core = await coreWith({
      listeners: [
        // Listener-level abort: applies where no route says otherwise.
        filterListener('listener-fault', [
          { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT, ...ABORT_ALL } },
        ]),
        filterListener('route-only', [
          { name: 'envoy.filters.http.cors', typedConfig: { '@type': CORS } },
          { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
        ]),
      ],
      clusters: [staticCluster('app', [{ port: app.port }])],
      routes: [
        {
          name: 'listener-fault',
          virtualHosts: [vhost('svc', 80, [{ match: { prefix: '/' }, directResponse: direct(200) }])],
        },
        {
          name: 'route-only',
          virtualHosts: [
            vhost('plain', 80, [{ match: { prefix: '/' }, route: { cluster: 'app' } }]),
            {
              // Configs on the virtual host apply to its routes.
              ...vhost('faulty', 80, [{ match: { prefix: '/' }, directResponse: direct(200) }]),
              typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, ...ABORT_ALL } },
            },
            vhost('cors', 80, [
              {
                match: { prefix: '/' },
                route: { cluster: 'app' },
                typedPerFilterConfig: {
                  'envoy.filters.http.cors': {
                    '@type': CORS_POLICY,
                    allowOriginStringMatch: [{ exact: 'https://app.example' }],
                    allowMethods: 'GET',
                  },
                },
              },
            ]),
          ],
        },
      ],
    });
    withFaults = core.listeners.get('listener-fault')!.port;
    routeOnly = core.listeners.get('route-only')!.port;
  });

  after(async () => {
    core?.destroy();
    await app?.close();
  });

  const get = (port: number, host: string, headers: Record<string, string> = {}, method = 'GET') =>
    request(port, { host, headers, method, timeoutMs: 10_000 });

  test('a listener-level fault applies to a route that has no fault config', async () => {
    assert.equal((await get(withFaults, 'svc')).status, 418);
  });

  test('route-only filters do nothing on a route without their config', async () => {
    const r = await get(routeOnly, 'plain', { origin: 'https://app.example' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  test("a virtual host's fault config applies", async () => {
    assert.equal((await get(routeOnly, 'faulty')).status, 418);
  });

  test("a route's CORS policy applies: preflight answered, origin allowed", async () => {
    const preflight = await get(
      routeOnly,
      'cors',
      { origin: 'https://app.example', 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    const r = await get(routeOnly, 'cors', { origin: 'https://app.example' });
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
  });
});
