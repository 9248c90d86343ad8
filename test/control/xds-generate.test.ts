// Generator tests, simulation style: given a snapshot, which listener/route/cluster/endpoint a request meets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateClusters } from '../../src/control/xds/generate/cds.ts';
import type { GenerateContext } from '../../src/control/xds/generate/common.ts';
import { generateEndpoints } from '../../src/control/xds/generate/eds.ts';
import { GENERATORS } from '../../src/control/xds/generate/index.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { type ProxyNode, proxyFromNode } from '../../src/control/xds/node.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import {
  destinationRule,
  httpRoute,
  match,
  service,
  snapshot,
  virtualService,
  workload,
} from '../helpers/grpc-xds-mesh.ts';
import { simulate } from '../helpers/grpc-xds-simulate.ts';

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
type Obj = Record<string, any>;

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';
const GREETER = 'greeter.default.svc.cluster.local';

function sidecar(overrides: Record<string, unknown> = {}): ProxyNode {
  return proxyFromNode({
    id: 'productpage-1',
    cluster: 'productpage',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      LABELS: { app: 'productpage', version: 'v1' },
      WEFT_SERVICE: 'productpage',
      WEFT_SERVICE_PORT: '9080',
      WEFT_APP_PORT: '3000',
      WEFT_INBOUND_PORT: '15006',
      WEFT_OUTBOUND_PORT: '15001',
      ...overrides,
    }),
  });
}

function grpcClient(namespace = 'default', labels: Record<string, string> = {}): ProxyNode {
  return proxyFromNode({ id: 'client-1', metadata: jsonToStruct({ NAMESPACE: namespace, LABELS: labels }) });
}

interface Run {
  ctx: GenerateContext;
  warnings: string[];
}

function context(snap: MeshSnapshot, proxy: ProxyNode): Run {
  const warnings: string[] = [];
  return { ctx: { snapshot: snap, proxy, warn: (_key, message) => warnings.push(message) }, warnings };
}

/** Encodes then decodes every resource, so tests see exactly what a client would; fails on misspelt fields. */
function wire(typeUrl: string, resources: { name: string; resource: Obj }[]): Obj[] {
  return resources.map((r) => {
    assert.deepEqual(unknownFields(typeUrl, r.resource), [], `${r.name} has fields the proto does not`);
    return decodeResource(typeUrl, encodeResource(typeUrl, r.resource));
  });
}

function routesOf(run: Run, names?: string[]): Obj[] {
  return wire(TYPE_URL.route, generateRoutes(run.ctx, names));
}

function clustersOf(run: Run, names?: string[]): Obj[] {
  return wire(TYPE_URL.cluster, generateClusters(run.ctx, names));
}

const bookinfo = () =>
  snapshot({
    services: [
      service('reviews', [{ number: 9080 }]),
      service('ratings', [
        { number: 80, name: 'http' },
        { number: 8080, name: 'http-admin' },
        { number: 9000, name: 'grpc', protocol: 'GRPC' },
        { number: 6379, name: 'tcp-redis', protocol: 'TCP' },
      ]),
      service('details', [{ number: 9080 }], {
        namespace: 'other',
        hostname: 'details.other.svc.cluster.local',
      }),
    ],
    workloads: [
      workload('reviews-v1', '10.0.0.1', { app: 'reviews', version: 'v1' }),
      workload('reviews-v2', '10.0.0.2', { app: 'reviews', version: 'v2' }),
    ],
    destinationRules: [
      destinationRule(REVIEWS, {
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ],
  });

describe('sidecar listeners', () => {
  test('outbound on loopback routes by host through RDS outbound; inbound sniffs HTTP and falls back to TCP', () => {
    const run = context(bookinfo(), sidecar());
    const [outbound, inbound] = wire(TYPE_URL.listener, generateListeners(run.ctx, undefined));
    assert.equal(outbound.name, 'outbound');
    assert.deepEqual(outbound.address, { socket_address: { address: '127.0.0.1', port_value: 15001 } });
    const hcm = outbound.filter_chains[0].filters[0].typed_config;
    assert.equal(
      hcm['@type'],
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    );
    assert.equal(hcm.rds.route_config_name, 'outbound');
    assert.ok(hcm.rds.config_source.ads);
    assert.deepEqual(
      hcm.upgrade_configs.map((u: Obj) => u.upgrade_type),
      ['websocket', 'CONNECT'],
    );
    assert.equal(hcm.http_filters.at(-1).name, 'envoy.filters.http.router');

    assert.equal(inbound.name, 'inbound');
    assert.deepEqual(inbound.address, { socket_address: { address: '0.0.0.0', port_value: 15006 } });
    // PERMISSIVE (no PeerAuthentication): the mTLS chains first (by the client sidecar's ALPN:
    // HTTP, TCP; then any other TLS client), then plaintext HTTP and TCP.
    assert.deepEqual(
      inbound.listener_filters.map((f: Obj) => f.name),
      ['envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector'],
    );
    assert.deepEqual(
      inbound.filter_chains.map((c: Obj) => [c.name, c.filter_chain_match.transport_protocol ?? '']),
      [
        ['inbound-mtls-http', 'tls'],
        ['inbound-mtls-tcp', 'tls'],
        ['inbound-mtls', 'tls'],
        ['inbound-http', ''],
      ],
    );
    assert.deepEqual(
      inbound.filter_chains.map((c: Obj) => c.filter_chain_match.application_protocols),
      [
        ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
        ['istio-peer-exchange', 'istio'],
        undefined,
        ['http/1.1', 'http/1.0', 'h2c'],
      ],
    );
    assert.equal(inbound.filter_chains[0].filters[0].name, 'envoy.filters.network.http_connection_manager');
    assert.equal(inbound.filter_chains[1].filters[0].name, 'envoy.filters.network.tcp_proxy');
    const inboundHcm = inbound.filter_chains[3].filters[0].typed_config;
    assert.equal(inboundHcm.route_config.name, 'inbound|9080||');
    const sim = simulate(inboundHcm.route_config, { authority: 'anything', path: '/x' });
    assert.equal(sim.outcome, 'route');
    assert.deepEqual(sim.outcome === 'route' && sim.clusters, [{ name: 'inbound|9080||', weight: 100 }]);
    const tcp = inbound.default_filter_chain.filters[0];
    assert.equal(tcp.name, 'envoy.filters.network.tcp_proxy');
    assert.equal(tcp.typed_config.cluster, 'inbound|9080||');
  });

  test('a TCP service gets an inbound listener with only tcp_proxy chains (mTLS, else plaintext)', () => {
    const run = context(bookinfo(), sidecar({ WEFT_SERVICE_PROTOCOL: 'TCP' }));
    const inbound = wire(TYPE_URL.listener, generateListeners(run.ctx, undefined))[1];
    assert.deepEqual(
      inbound.listener_filters.map((f: Obj) => f.name),
      ['envoy.filters.listener.tls_inspector'],
    );
    assert.equal(inbound.filter_chains.length, 1);
    assert.equal(inbound.filter_chains[0].filter_chain_match.transport_protocol, 'tls');
    assert.equal(inbound.filter_chains[0].filters[0].typed_config.cluster, 'inbound|9080||');
    assert.equal(inbound.default_filter_chain.filters[0].typed_config.cluster, 'inbound|9080||');
  });
});

describe('sidecar outbound routes (RDS outbound)', () => {
  test('the host names a request may use, with and without port, reach the right cluster', () => {
    const [config] = routesOf(context(bookinfo(), sidecar()));
    const cluster = (authority: string, path = '/') => {
      const r = simulate(config, { authority, path });
      return r.outcome === 'route' ? r.clusters?.[0].name : r.outcome;
    };
    assert.equal(cluster('reviews'), `outbound|9080||${REVIEWS}`);
    assert.equal(cluster('reviews:9080'), `outbound|9080||${REVIEWS}`);
    assert.equal(cluster('reviews.default'), `outbound|9080||${REVIEWS}`);
    assert.equal(cluster('reviews.default.svc'), `outbound|9080||${REVIEWS}`);
    assert.equal(cluster(REVIEWS), `outbound|9080||${REVIEWS}`);
    assert.equal(cluster('REVIEWS.default:9080'), `outbound|9080||${REVIEWS}`);
    // Port-less names go to port 80 when the service has one.
    assert.equal(cluster('ratings'), `outbound|80||${RATINGS}`);
    assert.equal(cluster('ratings:8080'), `outbound|8080||${RATINGS}`);
    assert.equal(cluster('ratings.default:9000'), `outbound|9000||${RATINGS}`);
    // Another namespace's service: no bare short name (it is an unknown host, passed through as ALLOW_ANY).
    assert.equal(cluster('details'), 'PassthroughCluster');
    assert.equal(cluster('details.other'), 'outbound|9080||details.other.svc.cluster.local');
    assert.equal(cluster('unknown.example.com'), 'PassthroughCluster');
  });

  test('CONNECT reaches every port; a TCP port is reachable only by CONNECT', () => {
    const [config] = routesOf(context(bookinfo(), sidecar()));
    const connect = simulate(config, { authority: 'ratings.default:6379', method: 'CONNECT' });
    assert.equal(connect.outcome, 'route');
    assert.equal(connect.outcome === 'route' && connect.clusters?.[0].name, `outbound|6379||${RATINGS}`);
    assert.deepEqual(connect.outcome === 'route' && connect.action.upgrade_configs, [
      { upgrade_type: 'CONNECT', connect_config: {} },
    ]);
    assert.equal(simulate(config, { authority: 'ratings.default:6379', path: '/' }).outcome, 'no-route');
    const http = simulate(config, { authority: 'reviews:9080', method: 'CONNECT' });
    assert.equal(http.outcome === 'route' && http.clusters?.[0].name, `outbound|9080||${REVIEWS}`);
  });

  test('CONNECT to an opaque port follows the VirtualService tcp[] rule that applies', () => {
    const base = bookinfo();
    const ratingsRule = destinationRule(RATINGS, {
      subsets: [
        { name: 'a', labels: { version: 'a' } },
        { name: 'b', labels: { version: 'b' } },
      ],
    });
    const vs = virtualService('ratings', [RATINGS], [], {
      tcp: [
        { matches: [{ port: 9999 }], route: [{ host: RATINGS, subset: 'b', weight: 100 }] },
        {
          matches: [{ port: 6379 }],
          route: [
            { host: RATINGS, subset: 'a', weight: 70 },
            { host: RATINGS, subset: 'b', weight: 30 },
          ],
        },
      ],
    });
    const snap = {
      ...base,
      virtualServices: [vs],
      virtualServicesByHost: new Map([[RATINGS, [vs]]]),
      destinationRules: new Map([...base.destinationRules, [RATINGS, ratingsRule]]),
    };
    const [config] = routesOf(context(snap, sidecar()));
    const r = simulate(config, { authority: 'ratings.default:6379', method: 'CONNECT' }) as Obj;
    assert.deepEqual(r.clusters, [
      { name: `outbound|6379|a|${RATINGS}`, weight: 70 },
      { name: `outbound|6379|b|${RATINGS}`, weight: 30 },
    ]);
  });

  test('no VirtualService: Istio default route (timeouts disabled, default retries)', () => {
    const [config] = routesOf(context(bookinfo(), sidecar()));
    const r = simulate(config, { authority: 'reviews', path: '/anything' });
    assert.equal(r.outcome, 'route');
    if (r.outcome !== 'route') return;
    assert.equal(r.route, 'default');
    assert.deepEqual(r.action.timeout, {});
    assert.equal(r.action.retry_policy.num_retries.value, 2);
    assert.equal(
      r.action.retry_policy.retry_on,
      'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    );
    assert.deepEqual(r.action.retry_policy.retriable_status_codes, [503]);
  });

  test('VirtualService matches in order: header, uri forms, query, weights, catch-all; no default route after it', () => {
    const snap = bookinfo();
    const vs = virtualService(
      'reviews',
      [REVIEWS],
      [
        httpRoute({
          name: 'tester',
          matches: [match({ headers: [{ name: 'x-user', match: { exact: 'tester' }, invert: false }] })],
          route: [{ host: REVIEWS, subset: 'v2', weight: 100 }],
        }),
        httpRoute({
          name: 'api',
          matches: [
            match({ name: 'exact', uri: { exact: '/api/v1' } }),
            match({ name: 'regex', uri: { regex: '/item/[0-9]+' } }),
            match({ name: 'nocase', uri: { prefix: '/Static' }, ignoreUriCase: true }),
          ],
          route: [{ host: REVIEWS, subset: 'v1', weight: 100 }],
          timeoutMs: 1500,
          retries: { attempts: 3, perTryTimeoutMs: 500, retryOn: ['5xx'], retriableStatusCodes: [] },
        }),
        httpRoute({
          name: 'debug',
          matches: [
            match({
              queryParams: [{ name: 'debug', match: { exact: '1' } }],
              headers: [{ name: 'x-canary', invert: true }],
            }),
          ],
          route: [{ host: REVIEWS, subset: 'v2', weight: 100 }],
          retries: { attempts: 0, retryOn: [], retriableStatusCodes: [] },
        }),
        httpRoute({
          name: 'split',
          route: [
            { host: REVIEWS, subset: 'v1', weight: 80 },
            { host: REVIEWS, subset: 'v2', weight: 20 },
          ],
        }),
        httpRoute({ name: 'never', route: [{ host: RATINGS, weight: 100 }] }),
      ],
    );
    const snapWithVs = { ...snap, virtualServices: [vs], virtualServicesByHost: new Map([[REVIEWS, [vs]]]) };
    const [config] = routesOf(context(snapWithVs, sidecar()));
    const go = (req: Parameters<typeof simulate>[1]) => {
      const r = simulate(config, req);
      assert.equal(r.outcome, 'route', JSON.stringify(req));
      return r as Extract<typeof r, { outcome: 'route' }>;
    };
    const v1 = `outbound|9080|v1|${REVIEWS}`;
    const v2 = `outbound|9080|v2|${REVIEWS}`;
    assert.deepEqual(go({ authority: 'reviews', headers: { 'x-user': 'tester' } }).clusters, [
      { name: v2, weight: 100 },
    ]);
    const exact = go({ authority: 'reviews:9080', path: '/api/v1' });
    assert.equal(exact.route, 'api.exact');
    assert.deepEqual(exact.clusters, [{ name: v1, weight: 100 }]);
    assert.deepEqual(exact.action.timeout, { seconds: 1, nanos: 500_000_000 });
    assert.deepEqual(exact.action.retry_policy.per_try_timeout, { nanos: 500_000_000 });
    assert.equal(exact.action.retry_policy.num_retries.value, 3);
    assert.equal(exact.action.retry_policy.retry_on, '5xx');
    assert.equal(go({ authority: 'reviews', path: '/api/v1/more' }).route, 'split');
    assert.equal(go({ authority: 'reviews', path: '/item/42' }).route, 'api.regex');
    assert.equal(go({ authority: 'reviews', path: '/item/x' }).route, 'split');
    assert.equal(go({ authority: 'reviews', path: '/static/app.js' }).route, 'api.nocase');
    const debug = go({ authority: 'reviews', path: '/?debug=1' });
    assert.equal(debug.route, 'debug');
    assert.equal(debug.action.retry_policy, undefined);
    assert.equal(
      go({ authority: 'reviews', path: '/?debug=1', headers: { 'x-canary': 'yes' } }).route,
      'split',
    );
    assert.deepEqual(go({ authority: 'reviews', path: '/' }).clusters, [
      { name: v1, weight: 80 },
      { name: v2, weight: 20 },
    ]);
    const reviewsHost = config.virtual_hosts.find((vh: Obj) => vh.name === `${REVIEWS}:9080`);
    const names = reviewsHost.routes.map((r: Obj) => r.name);
    assert.ok(!names.includes('never'), 'rules after a catch-all are dropped');
    assert.ok(!names.includes('default'), 'no default route is added when a VirtualService applies');
  });

  test('without a catch-all rule, unmatched requests get no route (Istio 404)', () => {
    const vs = virtualService(
      'reviews',
      [REVIEWS],
      [
        httpRoute({
          name: 'only',
          matches: [match({ uri: { prefix: '/only' } })],
          route: [{ host: REVIEWS, weight: 100 }],
        }),
      ],
    );
    const snap = { ...bookinfo(), virtualServices: [vs], virtualServicesByHost: new Map([[REVIEWS, [vs]]]) };
    const [config] = routesOf(context(snap, sidecar()));
    assert.equal(simulate(config, { authority: 'reviews', path: '/only/x' }).outcome, 'route');
    assert.equal(simulate(config, { authority: 'reviews', path: '/other' }).outcome, 'no-route');
  });

  test('sourceLabels, sourceNamespace and port conditions are evaluated for the proxy', () => {
    const vs = virtualService(
      'reviews',
      [REVIEWS],
      [
        httpRoute({
          name: 'from-productpage-v2',
          matches: [match({ sourceLabels: { app: 'productpage', version: 'v2' } })],
          route: [{ host: REVIEWS, subset: 'v2', weight: 100 }],
        }),
        httpRoute({
          name: 'other-port',
          matches: [match({ port: 9999 })],
          route: [{ host: REVIEWS, subset: 'v2', weight: 100 }],
        }),
        httpRoute({
          name: 'from-default',
          matches: [match({ sourceNamespace: 'default', uri: { prefix: '/' } })],
          route: [{ host: REVIEWS, subset: 'v1', weight: 100 }],
        }),
      ],
    );
    const snap = { ...bookinfo(), virtualServices: [vs], virtualServicesByHost: new Map([[REVIEWS, [vs]]]) };
    const v1Proxy = routesOf(context(snap, sidecar()))[0];
    assert.equal((simulate(v1Proxy, { authority: 'reviews' }) as Obj).route, 'from-default');
    const v2Proxy = routesOf(context(snap, sidecar({ LABELS: { app: 'productpage', version: 'v2' } })))[0];
    assert.equal((simulate(v2Proxy, { authority: 'reviews' }) as Obj).route, 'from-productpage-v2');
    const otherNs = routesOf(context(snap, sidecar({ NAMESPACE: 'other' })))[0];
    assert.equal(simulate(otherNs, { authority: 'reviews.default' }).outcome, 'no-route');
  });

  test('header operations, redirects, direct responses, rewrites and mirrors map to Envoy fields', () => {
    const vs = virtualService(
      'reviews',
      [REVIEWS],
      [
        httpRoute({
          name: 'moved',
          matches: [match({ uri: { prefix: '/old' } })],
          redirect: { uri: '/new', redirectCode: 308 },
        }),
        httpRoute({
          name: 'moved-under',
          matches: [match({ uri: { prefix: '/docs/' } })],
          redirect: { uriPrefix: '/manual/', redirectCode: 302 },
        }),
        httpRoute({
          name: 'teapot',
          matches: [match({ uri: { exact: '/tea' } })],
          directResponse: { status: 418, body: 'short and stout' },
        }),
        httpRoute({
          name: 'main',
          route: [
            {
              host: REVIEWS,
              weight: 100,
              headers: { set: { 'x-dest': 'reviews' }, add: {}, remove: [] },
              responseHeaders: { set: {}, add: { 'x-served-by': 'reviews' }, remove: ['server'] },
            },
          ],
          rewrite: { uri: '/v2', authority: 'reviews.internal' },
          headers: { request: { set: {}, add: { 'x-added': 'yes' }, remove: ['x-secret'] } },
          mirrors: [{ host: RATINGS, port: 80, percentage: 12.5 }],
        }),
      ],
    );
    const snap = { ...bookinfo(), virtualServices: [vs], virtualServicesByHost: new Map([[REVIEWS, [vs]]]) };
    const [config] = routesOf(context(snap, sidecar()));
    const moved = simulate(config, { authority: 'reviews', path: '/old/page' }) as Obj;
    assert.deepEqual(moved.redirect, { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' });
    const under = simulate(config, { authority: 'reviews', path: '/docs/a' }) as Obj;
    assert.deepEqual(under.redirect, { prefix_rewrite: '/manual/', response_code: 'FOUND' });
    const tea = simulate(config, { authority: 'reviews', path: '/tea' }) as Obj;
    assert.deepEqual(tea.directResponse, { status: 418, body: { inline_string: 'short and stout' } });
    const main = simulate(config, { authority: 'reviews', path: '/x' }) as Obj;
    assert.equal(main.action.prefix_rewrite, '/v2');
    assert.equal(main.action.host_rewrite_literal, 'reviews.internal');
    assert.deepEqual(main.action.request_mirror_policies, [
      {
        cluster: `outbound|80||${RATINGS}`,
        runtime_fraction: { default_value: { numerator: 125_000, denominator: 'MILLION' } },
      },
    ]);
    const route = config.virtual_hosts
      .find((vh: Obj) => vh.name === `${REVIEWS}:9080`)
      .routes.find((r: Obj) => r.name === 'main');
    assert.deepEqual(route.request_headers_to_add, [
      { header: { key: 'x-added', value: 'yes' } },
      { header: { key: 'x-dest', value: 'reviews' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(route.request_headers_to_remove, ['x-secret']);
    assert.deepEqual(route.response_headers_to_add, [{ header: { key: 'x-served-by', value: 'reviews' } }]);
    assert.deepEqual(route.response_headers_to_remove, ['server']);
  });

  test('a consistent-hash DestinationRule puts the hash policy on routes to it', () => {
    const snap = snapshot({
      services: [service('reviews', [{ number: 9080 }])],
      destinationRules: [
        destinationRule(REVIEWS, {
          trafficPolicy: {
            loadBalancer: { consistentHash: { key: { httpHeaderName: 'x-user' }, algorithm: 'RING_HASH' } },
            portLevelSettings: [],
          },
        }),
      ],
    });
    const [config] = routesOf(context(snap, sidecar()));
    const r = simulate(config, { authority: 'reviews' }) as Obj;
    assert.deepEqual(r.action.hash_policy, [{ header: { header_name: 'x-user' } }]);
    const [cluster] = clustersOf(context(snap, sidecar()), [`outbound|9080||${REVIEWS}`]);
    assert.equal(cluster.lb_policy, 'RING_HASH');
    assert.equal(cluster.ring_hash_lb_config.minimum_ring_size.value, 1024);
  });

  test('fault injection reaches sidecars as per-route HTTPFault, without a warning', () => {
    const vs = virtualService(
      'reviews',
      [REVIEWS],
      [
        httpRoute({
          name: 'faulty',
          route: [{ host: REVIEWS, weight: 100 }],
          fault: { abort: { httpStatus: 500, percentage: 10 } },
        }),
      ],
    );
    const snap = { ...bookinfo(), virtualServices: [vs], virtualServicesByHost: new Map([[REVIEWS, [vs]]]) };
    const run = context(snap, sidecar());
    const route = routesOf(run)[0]
      .virtual_hosts.flatMap((v: Obj) => v.routes)
      .find((r: Obj) => r.name === 'faulty');
    assert.equal(route.typed_per_filter_config['envoy.filters.http.fault'].abort.http_status, 500);
    assert.deepEqual(run.warnings, []);
  });
});

describe('clusters (CDS)', () => {
  test('an EDS cluster per service port and subset, plus the inbound STATIC cluster', () => {
    const clusters = clustersOf(context(bookinfo(), sidecar()));
    const names = clusters.map((c) => c.name);
    assert.ok(names.includes(`outbound|9080||${REVIEWS}`));
    assert.ok(names.includes(`outbound|9080|v1|${REVIEWS}`));
    assert.ok(names.includes(`outbound|9080|v2|${REVIEWS}`));
    assert.ok(names.includes(`outbound|6379||${RATINGS}`));
    const v1 = clusters.find((c) => c.name === `outbound|9080|v1|${REVIEWS}`)!;
    assert.equal(v1.type, 'EDS');
    assert.deepEqual(v1.eds_cluster_config, {
      eds_config: { ads: {}, resource_api_version: 'V3' },
      service_name: `outbound|9080|v1|${REVIEWS}`,
    });
    assert.deepEqual(v1.connect_timeout, { seconds: 10 });
    assert.equal(v1.lb_policy, undefined, 'ROUND_ROBIN is the proto default');
    assert.equal(v1.circuit_breakers.thresholds[0].max_requests.value, 4_294_967_295);
    const grpcPort = clusters.find((c) => c.name === `outbound|9000||${RATINGS}`)!;
    const options =
      grpcPort.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.deepEqual(options.explicit_http_config, { http2_protocol_options: {} });
    assert.equal(
      clusters.find((c) => c.name === `outbound|80||${RATINGS}`)!.typed_extension_protocol_options,
      undefined,
    );
    const inbound = clusters.find((c) => c.name === 'inbound|9080||')!;
    assert.equal(inbound.type, 'STATIC');
    assert.deepEqual(inbound.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, {
      address: '127.0.0.1',
      port_value: 3000,
    });
  });

  test('DestinationRule policy maps as Istio does; subset and port-level settings replace', () => {
    const snap = snapshot({
      services: [service('reviews', [{ number: 9080 }, { number: 9443, name: 'http-alt' }])],
      destinationRules: [
        destinationRule(REVIEWS, {
          trafficPolicy: {
            loadBalancer: { simple: 'LEAST_REQUEST' },
            connectionPool: {
              tcp: { maxConnections: 10, connectTimeoutMs: 250 },
              http: {
                http1MaxPendingRequests: 5,
                http2MaxRequests: 20,
                maxRetries: 2,
                maxRequestsPerConnection: 1,
              },
            },
            outlierDetection: {
              consecutive5xxErrors: 3,
              intervalMs: 5000,
              baseEjectionTimeMs: 30_000,
              maxEjectionPercent: 50,
              minHealthPercent: 25,
            },
            portLevelSettings: [{ port: 9443, loadBalancer: { simple: 'RANDOM' } }],
          },
          subsets: [
            {
              name: 'v2',
              labels: { version: 'v2' },
              trafficPolicy: {
                loadBalancer: {
                  consistentHash: { key: { useSourceIp: true }, algorithm: 'MAGLEV', maglevTableSize: 65537 },
                },
                portLevelSettings: [],
              },
            },
          ],
        }),
      ],
    });
    const all = clustersOf(context(snap, sidecar()));
    const get = (n: string) => all.find((c) => c.name === n)!;
    const base = get(`outbound|9080||${REVIEWS}`);
    assert.equal(base.lb_policy, 'LEAST_REQUEST');
    assert.deepEqual(base.connect_timeout, { nanos: 250_000_000 });
    assert.deepEqual(base.circuit_breakers.thresholds[0], {
      max_connections: { value: 10 },
      max_pending_requests: { value: 5 },
      max_requests: { value: 20 },
      max_retries: { value: 2 },
      track_remaining: true,
    });
    const options =
      base.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.deepEqual(options.common_http_protocol_options, { max_requests_per_connection: { value: 1 } });
    assert.deepEqual(options.explicit_http_config, { http_protocol_options: {} });
    assert.deepEqual(base.outlier_detection, {
      consecutive_5xx: { value: 3 },
      interval: { seconds: 5 },
      base_ejection_time: { seconds: 30 },
      max_ejection_percent: { value: 50 },
      enforcing_consecutive_5xx: { value: 100 },
      enforcing_success_rate: { value: 0 },
    });
    assert.deepEqual(base.common_lb_config, { healthy_panic_threshold: { value: 25 } });
    // Port-level settings replace the whole policy (Istio: they do not inherit).
    const alt = get(`outbound|9443||${REVIEWS}`);
    assert.equal(alt.lb_policy, 'RANDOM');
    assert.equal(alt.outlier_detection, undefined);
    assert.equal(alt.circuit_breakers.thresholds[0].max_connections.value, 4_294_967_295);
    // The subset replaces only the load balancer.
    const v2 = get(`outbound|9080|v2|${REVIEWS}`);
    assert.equal(v2.lb_policy, 'MAGLEV');
    assert.equal(v2.maglev_lb_config.table_size.value, 65537);
    assert.equal(v2.circuit_breakers.thresholds[0].max_connections.value, 10);
  });

  test('proxyless gRPC clients get only policies grpc-js-xds accepts, with a warning', () => {
    const snap = snapshot({
      services: [service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }])],
      destinationRules: [
        destinationRule(GREETER, {
          trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, portLevelSettings: [] },
        }),
      ],
    });
    const run = context(snap, grpcClient());
    const [cluster] = clustersOf(run, [`outbound|50051||${GREETER}`]);
    assert.equal(cluster.lb_policy, undefined);
    assert.ok(run.warnings.some((w) => w.includes('LEAST_REQUEST')));
    assert.deepEqual(clustersOf(run, ['outbound|1||nope.default.svc.cluster.local', 'garbage']), []);
  });
});

describe('endpoints (EDS)', () => {
  test('subset labels select endpoints; ports follow sidecar inbound, workload ports, targetPort', () => {
    const snap = snapshot({
      services: [service('reviews', [{ number: 9080, name: 'http', targetPort: 8080 }])],
      workloads: [
        workload('a', '10.0.0.1', { app: 'reviews', version: 'v1' }),
        workload('b', '10.0.0.2', { app: 'reviews', version: 'v2' }, { ports: { http: 7070 }, weight: 3 }),
        workload(
          'c',
          '10.0.0.3',
          { app: 'reviews', version: 'v2' },
          { sidecar: { inboundPort: 15006 }, health: 'UNHEALTHY' },
        ),
      ],
      destinationRules: [destinationRule(REVIEWS, { subsets: [{ name: 'v2', labels: { version: 'v2' } }] })],
    });
    const run = context(snap, sidecar());
    const [all, v2, none] = wire(
      TYPE_URL.endpoint,
      generateEndpoints(run.ctx, [
        `outbound|9080||${REVIEWS}`,
        `outbound|9080|v2|${REVIEWS}`,
        `outbound|9080|v9|${REVIEWS}`,
      ]),
    );
    assert.equal(none, undefined, 'an unknown subset has no assignment');
    const addresses = (cla: Obj) =>
      cla.endpoints[0].lb_endpoints.map((e: Obj) => {
        const a = e.endpoint.address.socket_address;
        return `${a.address}:${a.port_value}/${e.health_status}/${e.load_balancing_weight.value}`;
      });
    assert.deepEqual(addresses(all), [
      '10.0.0.1:8080/HEALTHY/1',
      '10.0.0.2:7070/HEALTHY/3',
      '10.0.0.3:15006/UNHEALTHY/1',
    ]);
    assert.deepEqual(addresses(v2), ['10.0.0.2:7070/HEALTHY/3', '10.0.0.3:15006/UNHEALTHY/1']);
    assert.deepEqual(all.endpoints[0].locality, {});
    assert.equal(all.endpoints[0].load_balancing_weight.value, 5);
  });
});

describe('proxyless gRPC', () => {
  const snap = () =>
    snapshot({
      services: [service('greeter', [{ number: 50051, name: 'grpc', protocol: 'GRPC' }])],
      workloads: [workload('g1', '127.0.0.1', { app: 'greeter', version: 'v1' }, { ports: { grpc: 40001 } })],
    });

  test('LDS answers the full and short target names with an API listener pointing at RDS of the same name', () => {
    const run = context(snap(), grpcClient());
    const names = [`${GREETER}:50051`, 'greeter:50051', 'greeter.default:50051', 'greeter:1', 'nope:50051'];
    const listeners = wire(TYPE_URL.listener, generateListeners(run.ctx, names));
    assert.deepEqual(
      listeners.map((l) => l.name),
      names.slice(0, 3),
    );
    const hcm = listeners[0].api_listener.api_listener;
    assert.equal(hcm.rds.route_config_name, `${GREETER}:50051`);
    assert.deepEqual(hcm.http_filters, [
      {
        name: 'envoy.filters.http.fault',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' },
      },
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ]);
    const [short] = routesOf(run, ['greeter:50051']);
    const r = simulate(short, { authority: 'greeter:50051', path: '/helloworld.Greeter/SayHello' }) as Obj;
    assert.deepEqual(r.clusters, [{ name: `outbound|50051||${GREETER}`, weight: 100 }]);
    assert.ok(!JSON.stringify(short).includes('connect_matcher'), 'gRPC clients reject CONNECT routes');
  });

  test('every generated resource of every type encodes without unknown fields', () => {
    for (const proxy of [sidecar(), grpcClient()]) {
      const run = context(bookinfo(), proxy);
      for (const [typeUrl, generate] of GENERATORS) {
        const cluster = `outbound|9080|v1|${REVIEWS}`;
        const perType: Record<string, string[] | undefined> = {
          [TYPE_URL.endpoint]: [cluster],
          [TYPE_URL.cluster]: proxy.kind === 'grpc' ? [cluster] : undefined,
          [TYPE_URL.listener]: proxy.kind === 'grpc' ? [`${REVIEWS}:9080`] : undefined,
          [TYPE_URL.route]: proxy.kind === 'grpc' ? [`${REVIEWS}:9080`] : undefined,
        };
        const names = perType[typeUrl];
        const resources = generate(run.ctx, names);
        assert.ok(resources.length > 0, `${proxy.kind} ${typeUrl}`);
        wire(typeUrl, resources);
      }
    }
  });
});
