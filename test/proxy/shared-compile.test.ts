// Proxy cores of one process (a node agent's workloads) share a compiled route table received as the same bytes, unless it may hold per-core state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileScope } from '../../src/proxy/common/compile-scope.ts';
import { compileShared, sharedCopy } from '../../src/proxy/common/shared-compile.ts';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { encodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { decodeXdsResource } from '../../src/xds/wire/ads.ts';
import { wireStaticCluster } from './fixtures.ts';

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** An outbound RouteConfiguration as the control plane sends it (snake_case, as on the wire). */
function routeConfig(cluster: string, perRoute?: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'outbound',
    virtual_hosts: [
      {
        name: 'reviews:80',
        domains: ['reviews', 'reviews:80'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: { cluster, timeout: {} },
            ...(perRoute ? { typed_per_filter_config: perRoute } : {}),
          },
        ],
      },
    ],
  };
}

/** The resource as the ADS client hands it over: decoded body and the bytes it came as. */
function received(config: Record<string, unknown>) {
  const encoded = encodeResource(TYPE_URL.route, config);
  const body = camelize(decodeXdsResource(TYPE_URL.route, encoded)) as Record<string, unknown>;
  return { name: 'outbound', body, encoded };
}

async function withCores(run: (a: ProxyCore, b: ProxyCore) => Promise<void>): Promise<void> {
  const a = new ProxyCore();
  const b = new ProxyCore();
  try {
    await run(a, b);
  } finally {
    a.destroy();
    b.destroy();
  }
}

test('the same bytes: both cores route by one compiled table; other bytes: a table of their own', () =>
  withCores(async (a, b) => {
    await a.apply(TYPE_URL.route, [received(routeConfig('outbound|80||reviews'))], '1', false);
    await b.apply(TYPE_URL.route, [received(routeConfig('outbound|80||reviews'))], '1', false);
    assert.ok(a.routeTable('outbound'));
    assert.equal(a.routeTable('outbound'), b.routeTable('outbound'), 'one compiled table');
    await b.apply(TYPE_URL.route, [received(routeConfig('outbound|80||ratings'))], '2', false);
    assert.notEqual(a.routeTable('outbound'), b.routeTable('outbound'));
    const forward = b.routeTable('outbound')?.virtualHosts[0].routes[0].action;
    assert.equal(forward?.kind === 'forward' && forward.clusters[0].name, 'outbound|80||ratings');
  }));

test('a table with per-filter config (state such as active faults) is compiled for each core', () =>
  withCores(async (a, b) => {
    const fault = {
      'envoy.filters.http.fault': {
        '@type': FAULT,
        abort: { http_status: 503, percentage: { numerator: 100 } },
        max_active_faults: { value: 1 },
      },
    };
    await a.apply(TYPE_URL.route, [received(routeConfig('outbound|80||reviews', fault))], '1', false);
    await b.apply(TYPE_URL.route, [received(routeConfig('outbound|80||reviews', fault))], '1', false);
    assert.ok(a.routeTable('outbound'));
    assert.notEqual(a.routeTable('outbound'), b.routeTable('outbound'));
  }));

test('a resource without its bytes (not from the wire) is compiled for each core', () =>
  withCores(async (a, b) => {
    const { name, body } = received(routeConfig('outbound|80||reviews'));
    await a.apply(TYPE_URL.route, [{ name, body }], '1', false);
    await b.apply(TYPE_URL.route, [{ name, body }], '1', false);
    assert.notEqual(a.routeTable('outbound'), b.routeTable('outbound'));
  }));

test('a compilation that asked for its compile scope (per-core state) is never shared', () => {
  const bytes = Buffer.from('the same bytes');
  const pure = () =>
    compileShared(
      'test/pure',
      bytes,
      () => ({}),
      () => true,
    );
  assert.equal(pure(), pure());
  const scoped = () =>
    compileShared(
      'test/scoped',
      bytes,
      () => ({ scope: compileScope() }),
      () => true,
    );
  assert.notEqual(scoped(), scoped());
});

test('a cluster received alike: one compiled config, and each core its own cluster state (hosts, counters)', () =>
  withCores(async (a, b) => {
    const cluster = wireStaticCluster('outbound|80||reviews', 9080);
    const resource = () => {
      const encoded = encodeResource(TYPE_URL.cluster, cluster);
      const body = camelize(decodeXdsResource(TYPE_URL.cluster, encoded)) as Record<string, unknown>;
      return { name: 'outbound|80||reviews', body, encoded };
    };
    await a.apply(TYPE_URL.cluster, [resource()], '1', true);
    await b.apply(TYPE_URL.cluster, [resource()], '1', true);
    const [ca] = a.clusters.all();
    const [cb] = b.clusters.all();
    assert.equal(ca.config, cb.config, 'one compiled config');
    assert.notEqual(ca, cb, 'a cluster each');
    assert.notEqual(ca.allHosts()[0], cb.allHosts()[0], 'hosts each');
  }));

test('resource bytes kept by several cores are one copy, not a view of what they came in', () => {
  const response = Buffer.from('head:the resource:tail');
  const copy = sharedCopy(response.subarray(5, 17));
  assert.equal(copy.buffer.byteLength, 12, 'an ArrayBuffer of its own');
  assert.equal(sharedCopy(Buffer.from('the resource')), copy, 'the same bytes: the same copy');
  assert.notEqual(sharedCopy(Buffer.from('another one!')), copy);
});
