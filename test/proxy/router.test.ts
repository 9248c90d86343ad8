// Route matching as Envoy defines it: virtual host by authority, first matching route, weighted clusters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterManager } from '../../src/proxy/cluster/cluster-manager.ts';
import type { HcmConfig } from '../../src/proxy/http/connection-manager-config.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';
import {
  effectiveTimeout,
  findRoute,
  findVirtualHost,
  parseGrpcTimeout,
  pickWeightedCluster,
} from '../../src/proxy/http/router/route-match.ts';
import { compileRouteTable } from '../../src/proxy/http/router/route-table.ts';
import { decide, matchRoute, RouteDecision } from '../../src/proxy/http/router/router.ts';

function head(
  authority: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): RequestHead {
  const h = new RequestHead();
  h.authority = authority;
  h.path = path;
  h.method = method;
  for (const [k, v] of Object.entries(headers)) h.headers.push(k, v);
  return h;
}

const table = compileRouteTable({
  name: 'outbound',
  virtualHosts: [
    {
      name: 'exact',
      domains: ['reviews', 'reviews:9080', 'reviews.default.svc.cluster.local'],
      routes: [
        {
          name: 'connect',
          match: { connectMatcher: {} },
          route: { cluster: 'tunnel', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] },
        },
        { name: 'exact-path', match: { path: '/exact' }, route: { cluster: 'c-exact' } },
        { name: 'regex', match: { safeRegex: { regex: '/items/[0-9]+' } }, route: { cluster: 'c-regex' } },
        {
          name: 'nocase',
          match: { prefix: '/CaSe', caseSensitive: { value: false } },
          route: { cluster: 'c-case' },
        },
        { name: 'sep', match: { pathSeparatedPrefix: '/api' }, route: { cluster: 'c-sep' } },
        {
          name: 'hdr-prefix',
          match: { prefix: '/', headers: [{ name: 'x-user', stringMatch: { prefix: 'jason' } }] },
          route: { cluster: 'c-jason' },
        },
        {
          name: 'hdr-regex',
          match: { prefix: '/', headers: [{ name: 'x-id', safeRegexMatch: { regex: '[a-f]+' } }] },
          route: { cluster: 'c-hex' },
        },
        {
          name: 'hdr-absent',
          match: {
            prefix: '/',
            headers: [
              { name: 'x-debug', presentMatch: true, invertMatch: true },
              { name: ':method', stringMatch: { exact: 'POST' } },
            ],
          },
          route: { cluster: 'c-post-nodebug' },
        },
        {
          name: 'query',
          match: { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] },
          route: { cluster: 'c-q2' },
        },
        {
          name: 'query-present',
          match: { prefix: '/', queryParameters: [{ name: 'flag' }] },
          route: { cluster: 'c-flag' },
        },
        { name: 'default', match: { prefix: '/' }, route: { cluster: 'c-default' } },
      ],
    },
    {
      name: 'suffix',
      domains: ['*.example.com'],
      routes: [{ match: { prefix: '/' }, route: { cluster: 'c-suffix' } }],
    },
    {
      name: 'longer-suffix',
      domains: ['*.api.example.com'],
      routes: [{ match: { prefix: '/' }, route: { cluster: 'c-api' } }],
    },
    {
      name: 'prefix',
      domains: ['internal.*'],
      routes: [{ match: { prefix: '/' }, route: { cluster: 'c-prefix' } }],
    },
    { name: 'any', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c-any' } }] },
  ],
});

function cluster(
  authority: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): string {
  const h = head(authority, path, headers, method);
  const vh = findVirtualHost(table, h.authority);
  const route = vh && findRoute(vh, h);
  if (!route) return 'none';
  return route.action.kind === 'forward' ? route.action.clusters[0].name : route.action.kind;
}

test('virtual hosts: exact (with port forms, any case), longest suffix, prefix, then *', () => {
  assert.equal(findVirtualHost(table, 'reviews')!.name, 'exact');
  assert.equal(findVirtualHost(table, 'REVIEWS:9080')!.name, 'exact');
  assert.equal(findVirtualHost(table, 'reviews:1234')!.name, 'any');
  assert.equal(findVirtualHost(table, 'a.example.com')!.name, 'suffix');
  assert.equal(findVirtualHost(table, 'v1.api.example.com')!.name, 'longer-suffix');
  assert.equal(findVirtualHost(table, 'internal.corp')!.name, 'prefix');
  assert.equal(findVirtualHost(table, 'other')!.name, 'any');
});

test('path matches: exact path, full-match regex, case-insensitive prefix, path-separated prefix', () => {
  assert.equal(cluster('reviews', '/exact'), 'c-exact');
  assert.equal(cluster('reviews', '/exact?x=1'), 'c-exact');
  assert.equal(cluster('reviews', '/exact/more'), 'c-default');
  assert.equal(cluster('reviews', '/items/42'), 'c-regex');
  assert.equal(cluster('reviews', '/items/42x'), 'c-default');
  assert.equal(cluster('reviews', '/case/anything'), 'c-case');
  assert.equal(cluster('reviews', '/api'), 'c-sep');
  assert.equal(cluster('reviews', '/api/v1'), 'c-sep');
  assert.equal(cluster('reviews', '/apix'), 'c-default');
});

test('header and query-parameter matches, including inverted presence and :method', () => {
  assert.equal(cluster('reviews', '/', { 'x-user': 'jason-x' }), 'c-jason');
  assert.equal(cluster('reviews', '/', { 'x-user': 'bob' }), 'c-default');
  assert.equal(cluster('reviews', '/', { 'x-id': 'beef' }), 'c-hex');
  assert.equal(cluster('reviews', '/', { 'x-id': 'beefy' }), 'c-default');
  assert.equal(cluster('reviews', '/', {}, 'POST'), 'c-post-nodebug');
  assert.equal(cluster('reviews', '/', { 'x-debug': '1' }, 'POST'), 'c-default');
  assert.equal(cluster('reviews', '/?v=2'), 'c-q2');
  assert.equal(cluster('reviews', '/?v=3'), 'c-default');
  assert.equal(cluster('reviews', '/?a=1&flag'), 'c-flag');
});

test('CONNECT only matches connect_matcher routes', () => {
  assert.equal(cluster('reviews:9080', '', {}, 'CONNECT'), 'tunnel');
  assert.equal(cluster('other:1', '', {}, 'CONNECT'), 'none');
});

test('weighted clusters pick in proportion to weight', () => {
  const t = compileRouteTable({
    name: 'w',
    virtualHosts: [
      {
        name: 'w',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/' },
            route: {
              weightedClusters: {
                clusters: [
                  { name: 'a', weight: { value: 70 } },
                  { name: 'b', weight: { value: 20 } },
                  { name: 'c', weight: { value: 10 } },
                ],
              },
            },
          },
        ],
      },
    ],
  });
  const action = t.virtualHosts[0].routes[0].action;
  assert.equal(action.kind, 'forward');
  if (action.kind !== 'forward') return;
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 10_000; i++) counts[pickWeightedCluster(action, i / 10_000).name]++;
  assert.deepEqual(counts, { a: 7000, b: 2000, c: 1000 });
});

test('unsupported route fields are rejected naming the field', () => {
  assert.throws(
    () =>
      compileRouteTable({
        name: 'x',
        virtualHosts: [
          {
            name: 'v',
            domains: ['*'],
            routes: [
              {
                match: { prefix: '/', runtimeFraction: { defaultValue: { numerator: 1 } } },
                route: { cluster: 'a' },
              },
            ],
          },
        ],
      }),
    /runtime_fraction/,
  );
  assert.throws(
    () =>
      compileRouteTable({
        name: 'x',
        virtualHosts: [
          {
            name: 'v',
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, route: { cluster: 'a', foo: 1 } }],
          },
        ],
      }),
    /'foo'/,
  );
});

test('grpc-timeout becomes the timeout when the route honours it, capped and bounded by max_stream_duration', () => {
  const routeWith = (route: Record<string, unknown>) => {
    const t = compileRouteTable({
      name: 'g',
      virtualHosts: [{ name: 'g', domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }],
    });
    const a = t.virtualHosts[0].routes[0].action;
    assert.equal(a.kind, 'forward');
    return a as Extract<typeof a, { kind: 'forward' }>;
  };
  const h = head('g', '/svc/Method', { 'grpc-timeout': '250m' });
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('soon'), undefined);
  assert.equal(
    effectiveTimeout(routeWith({ cluster: 'a', timeout: {} }), h),
    0,
    'header ignored without grpc_timeout_header_max',
  );
  const istio = routeWith({
    cluster: 'a',
    timeout: {},
    maxStreamDuration: { maxStreamDuration: {}, grpcTimeoutHeaderMax: {} },
  });
  assert.equal(effectiveTimeout(istio, h), 250);
  assert.equal(effectiveTimeout(istio, head('g', '/')), 0);
  const capped = routeWith({
    cluster: 'a',
    maxStreamDuration: { grpcTimeoutHeaderMax: { nanos: 100_000_000 } },
  });
  assert.equal(effectiveTimeout(capped, h), 100);
  const bounded = routeWith({
    cluster: 'a',
    timeout: { seconds: 30 },
    maxStreamDuration: { maxStreamDuration: { seconds: 1 } },
  });
  assert.equal(effectiveTimeout(bounded, head('g', '/')), 1000);
});

test("a redirect's prefix_rewrite replaces the route's matched prefix and keeps the rest and the query (Envoy)", () => {
  const redirects = compileRouteTable({
    name: 'r',
    virtualHosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: [
          { match: { path: '/old' }, redirect: { pathRedirect: '/new', responseCode: 'FOUND' } },
          { match: { prefix: '/old/' }, redirect: { prefixRewrite: '/new/', responseCode: 'FOUND' } },
          { match: { pathSeparatedPrefix: '/v1' }, redirect: { prefixRewrite: '/v2' } },
        ],
      },
    ],
  });
  const hcm = { stripPort: 'none' } as unknown as HcmConfig;
  const location = (path: string) => {
    const h = head('web', path);
    const d = decide(matchRoute(hcm, redirects, h), new ClusterManager(), h, new RouteDecision());
    return `${d.status} ${d.headers?.[1]}`;
  };
  assert.equal(location('/old'), '302 http://web/new');
  assert.equal(location('/old/a/b?x=1'), '302 http://web/new/a/b?x=1');
  assert.equal(location('/old/'), '302 http://web/new/');
  assert.equal(location('/v1/items'), '301 http://web/v2/items');
});
