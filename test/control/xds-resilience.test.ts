// Generator tests for issue 5's route features: fault filter + per-route HTTPFault, retries, mirrors, headers, redirects.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateClusters } from '../../src/control/xds/generate/cds.ts';
import type { GenerateContext } from '../../src/control/xds/generate/common.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import type { HttpRoute, MeshSnapshot } from '../../src/model/types.ts';
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
} from '../helpers/grpc-xds-mesh.ts';

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
type Obj = Record<string, any>;

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

const sidecar = proxyFromNode({
  id: 'productpage-1',
  cluster: 'productpage',
  metadata: jsonToStruct({
    WEFT_SIDECAR: 'true',
    NAMESPACE: 'default',
    LABELS: { app: 'productpage' },
    WEFT_SERVICE: 'productpage',
    WEFT_SERVICE_PORT: '9080',
    WEFT_APP_PORT: '3000',
    WEFT_INBOUND_PORT: '15006',
    WEFT_OUTBOUND_PORT: '15001',
  }),
});

function ctxFor(rules: HttpRoute[]): GenerateContext {
  const snap: MeshSnapshot = snapshot({
    services: [service('reviews', [{ number: 9080 }]), service('ratings', [{ number: 9080 }])],
    virtualServices: [virtualService('reviews', [REVIEWS], rules)],
  });
  return { snapshot: snap, proxy: sidecar, warn: () => {} };
}

/** Encodes then decodes, so the test sees what the proxy gets (and misspelt fields fail). */
function wire(typeUrl: string, resources: { name: string; resource: Obj }[]): Obj[] {
  return resources.map((r) => {
    assert.deepEqual(unknownFields(typeUrl, r.resource), [], `${r.name} has fields the proto does not`);
    return decodeResource(typeUrl, encodeResource(typeUrl, r.resource));
  });
}

function routeNamed(rules: HttpRoute[], name: string): Obj {
  const [config] = wire(TYPE_URL.route, generateRoutes(ctxFor(rules), ['outbound']));
  for (const vh of config.virtual_hosts) {
    const r = vh.routes.find((x: Obj) => x.name === name);
    if (r) return r;
  }
  assert.fail(`no route ${name}`);
}

describe('resilience generation', () => {
  test('the outbound HCM runs envoy.filters.http.fault before the router (after cors, as Istio)', () => {
    const [outbound] = wire(TYPE_URL.listener, generateListeners(ctxFor([]), ['outbound']));
    const hcm = outbound.filter_chains[0].filters[0].typed_config;
    assert.deepEqual(
      hcm.http_filters.map((f: Obj) => f.name),
      ['envoy.filters.http.cors', 'envoy.filters.http.fault', 'envoy.filters.http.router'],
    );
    assert.equal(
      hcm.http_filters[1].typed_config['@type'],
      'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
    );
  });

  test('fault: delay and abort as per-route HTTPFault with percentages over a million', () => {
    const rules = [
      httpRoute({
        name: 'faulty',
        matches: [match({ uri: { prefix: '/f' } })],
        route: [{ host: REVIEWS, weight: 100 }],
        fault: {
          delay: { fixedDelayMs: 1500, percentage: 12.5 },
          abort: { httpStatus: 503, percentage: 30 },
        },
      }),
      httpRoute({
        name: 'grpc',
        route: [{ host: REVIEWS, weight: 100 }],
        fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: 100 } },
      }),
    ];
    const f = routeNamed(rules, 'faulty').typed_per_filter_config['envoy.filters.http.fault'];
    assert.deepEqual(f.delay, {
      fixed_delay: { seconds: 1, nanos: 500_000_000 },
      percentage: { numerator: 125_000, denominator: 'MILLION' },
    });
    assert.deepEqual(f.abort, {
      http_status: 503,
      percentage: { numerator: 300_000, denominator: 'MILLION' },
    });
    const g = routeNamed(rules, 'grpc').typed_per_filter_config['envoy.filters.http.fault'];
    assert.equal(g.abort.grpc_status, 14);
    assert.equal(g.abort.http_status, undefined);
  });

  test('retries, timeout, mirrors, headers, rewrite, redirect and directResponse reach the route', () => {
    const rules = [
      httpRoute({
        name: 'main',
        matches: [match({ uri: { prefix: '/api' } })],
        route: [{ host: REVIEWS, weight: 100 }],
        timeoutMs: 500,
        retries: {
          attempts: 3,
          perTryTimeoutMs: 200,
          retryOn: ['5xx', 'reset', 'retriable-status-codes'],
          retriableStatusCodes: [409],
          backoffMs: 100,
        },
        mirrors: [{ host: RATINGS, percentage: 25 }],
        headers: { request: { set: { 'x-a': '1' }, add: { 'x-b': '2' }, remove: ['x-c'] } },
        rewrite: { uri: '/v2', authority: 'reviews.internal' },
      }),
      httpRoute({
        name: 'moved',
        matches: [match({ uri: { prefix: '/old' } })],
        redirect: { uri: '/new', redirectCode: 308 },
      }),
      httpRoute({ name: 'teapot', directResponse: { status: 418, body: 'short and stout' } }),
    ];
    const main = routeNamed(rules, 'main');
    const action = main.route;
    assert.deepEqual(action.timeout, { nanos: 500_000_000 });
    assert.equal(action.retry_policy.retry_on, '5xx,reset,retriable-status-codes');
    assert.equal(action.retry_policy.num_retries.value, 3);
    assert.deepEqual(action.retry_policy.per_try_timeout, { nanos: 200_000_000 });
    assert.deepEqual(action.retry_policy.retriable_status_codes, [409]);
    assert.equal(
      action.retry_policy.retry_host_predicate[0].name,
      'envoy.retry_host_predicates.previous_hosts',
    );
    assert.equal(action.retry_policy.host_selection_retry_max_attempts, 5);
    assert.deepEqual(action.retry_policy.retry_back_off, { base_interval: { nanos: 100_000_000 } });
    assert.equal(action.request_mirror_policies[0].cluster, `outbound|9080||${RATINGS}`);
    assert.deepEqual(action.request_mirror_policies[0].runtime_fraction.default_value, {
      numerator: 250_000,
      denominator: 'MILLION',
    });
    assert.equal(action.prefix_rewrite, '/v2');
    assert.equal(action.host_rewrite_literal, 'reviews.internal');
    assert.deepEqual(main.request_headers_to_remove, ['x-c']);
    assert.equal(main.request_headers_to_add.length, 2);
    const moved = routeNamed(rules, 'moved');
    assert.equal(moved.redirect.path_redirect, '/new');
    assert.equal(moved.redirect.response_code, 'PERMANENT_REDIRECT');
    const teapot = routeNamed(rules, 'teapot');
    assert.deepEqual(teapot.direct_response, { status: 418, body: { inline_string: 'short and stout' } });
  });

  test('retryBudget → circuit_breakers retry_budget; outlier detection alone disables panic (Istio minHealthPercent 0)', () => {
    const snap = snapshot({
      services: [service('reviews', [{ number: 9080 }])],
      destinationRules: [
        destinationRule(REVIEWS, {
          trafficPolicy: {
            retryBudget: { percent: 25, minRetryConcurrency: 2 },
            outlierDetection: { consecutive5xxErrors: 5 },
            portLevelSettings: [],
          },
        }),
      ],
    });
    const [c] = wire(
      TYPE_URL.cluster,
      generateClusters({ snapshot: snap, proxy: sidecar, warn: () => {} }, [`outbound|9080||${REVIEWS}`]),
    );
    assert.deepEqual(c.circuit_breakers.thresholds[0].retry_budget, {
      budget_percent: { value: 25 },
      min_retry_concurrency: { value: 2 },
    });
    assert.equal(c.common_lb_config.healthy_panic_threshold.value ?? 0, 0);
  });
});
