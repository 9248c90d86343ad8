// The Istio examples from the project's source documents (examples/istio) parse, with the meaning Istio gives them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { compileResource } from '../../src/config/compile.ts';
import type { CompiledSpec } from '../../src/config/kinds.ts';
import type { ParsedDocument } from '../../src/config/parse.ts';
import { parseResources } from '../../src/config/parse.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';

const dir = new URL('../../examples/istio/', import.meta.url);

function load(name: string): ParsedDocument[] {
  return parseResources(readFileSync(new URL(name, dir), 'utf8'), name);
}

function meaning(parsed: ParsedDocument): CompiledSpec {
  const result = compileResource(parsed.resource, { domainSuffix: DEFAULT_MESH.domainSuffix });
  assert.ok(result?.outcome === 'compiled');
  return result.compiled;
}

describe('examples/istio', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  test('there are examples to check', () => assert.ok(files.length >= 8, files.join(', ')));

  for (const file of files)
    test(`${file} parses into VirtualService/DestinationRule/ServiceEntry/WorkloadEntry resources`, () => {
      const docs = load(file);
      assert.ok(docs.length > 0);
      for (const { resource } of docs) {
        assert.ok(
          ['VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry'].includes(resource.kind),
        );
        assert.equal(resource.metadata.namespace, 'default');
        assert.notEqual(
          meaning({ resource, location: { file, document: 0, line: 1 }, warnings: [] }),
          undefined,
        );
      }
    });

  test('reviews-jason: end-user jason goes to v2, everyone else to v1', () => {
    const [vs] = load('reviews-jason.yaml');
    const compiled = meaning(vs);
    assert.equal(compiled.kind, 'VirtualService');
    const { http, hosts } = compiled.virtualService;
    assert.deepEqual(hosts, ['reviews.default.svc.cluster.local']);
    assert.deepEqual(http[0].matches, [
      {
        ignoreUriCase: false,
        headers: [{ name: 'end-user', match: { exact: 'jason' }, invert: false }],
        queryParams: [],
      },
    ]);
    assert.deepEqual(http[0].route, [
      { host: 'reviews.default.svc.cluster.local', subset: 'v2', weight: 100 },
    ]);
    assert.deepEqual(http[1].matches, []);
    assert.deepEqual(http[1].route, [
      { host: 'reviews.default.svc.cluster.local', subset: 'v1', weight: 100 },
    ]);
  });

  test('product-canary and reviews-split keep their weights', () => {
    const product = meaning(load('product-canary.yaml')[0]);
    assert.equal(product.kind, 'VirtualService');
    assert.deepEqual(
      product.virtualService.http[0].route?.map((r) => [r.subset, r.weight]),
      [
        ['stable', 95],
        ['canary', 5],
      ],
    );
    const [vs, dr] = load('reviews-split.yaml');
    assert.equal(vs.resource.apiVersion, 'networking.istio.io/v1beta1');
    const split = meaning(vs);
    assert.equal(split.kind, 'VirtualService');
    assert.deepEqual(
      split.virtualService.http[0].route?.map((r) => r.weight),
      [75, 25],
    );
    assert.equal(dr.resource.kind, 'DestinationRule');
  });

  test('payment-circuit-breaker: the deprecated consecutiveErrors counts gateway errors, with a warning', () => {
    const [dr] = load('payment-circuit-breaker.yaml');
    const compiled = meaning(dr);
    assert.equal(compiled.kind, 'DestinationRule');
    assert.deepEqual(compiled.destinationRule.trafficPolicy, {
      connectionPool: { tcp: { maxConnections: 100 }, http: { maxRequestsPerConnection: 1 } },
      outlierDetection: { consecutiveGatewayErrors: 5, intervalMs: 30_000, baseEjectionTimeMs: 60_000 },
      portLevelSettings: [],
    });
    assert.equal(dr.warnings.length, 1);
    assert.match(
      dr.warnings[0],
      /^payment-circuit-breaker\.yaml:16:7: document 0: spec\.trafficPolicy\.outlierDetection\.consecutiveErrors: deprecated/,
    );
  });

  test("httpbin-circuit-breaker: Envoy's consecutiveGatewayFailure is read as consecutiveGatewayErrors", () => {
    const [dr] = load('httpbin-circuit-breaker.yaml');
    const compiled = meaning(dr);
    assert.equal(compiled.kind, 'DestinationRule');
    assert.deepEqual(compiled.destinationRule.trafficPolicy?.outlierDetection, {
      consecutiveGatewayErrors: 5,
      intervalMs: 30_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 50,
      minHealthPercent: 40,
    });
    assert.deepEqual(compiled.destinationRule.trafficPolicy?.connectionPool?.http, {
      http1MaxPendingRequests: 50,
      maxRequestsPerConnection: 2,
    });
    assert.equal(dr.warnings.length, 1);
  });

  test('reviews-retry: `retry` and a retryOn list are read as Istio intends, with warnings', () => {
    const [vs] = load('reviews-retry.yaml');
    const compiled = meaning(vs);
    assert.equal(compiled.kind, 'VirtualService');
    assert.deepEqual(compiled.virtualService.http[0].retries, {
      attempts: 3,
      perTryTimeoutMs: 2000,
      retryOn: ['5xx', 'connect-failure', 'refused-stream', 'reset', 'retriable-4xx'],
      retriableStatusCodes: [],
    });
    assert.equal(vs.warnings.length, 2);
    assert.match(vs.warnings[0], /spec\.http\[0\]\.retry: read as "retries"/);
  });

  test('reviews-canary: a header match to v2 and a 90/10 split', () => {
    const [vs, dr] = load('reviews-canary.yaml');
    const compiled = meaning(vs);
    assert.equal(compiled.kind, 'VirtualService');
    assert.deepEqual(compiled.virtualService.http[0].matches[0].headers, [
      { name: 'x-canary', match: { exact: 'true' }, invert: false },
    ]);
    assert.deepEqual(
      compiled.virtualService.http[1].route?.map((r) => [r.subset, r.weight]),
      [
        ['v1', 90],
        ['v2', 10],
      ],
    );
    const rule = meaning(dr);
    assert.equal(rule.kind, 'DestinationRule');
    assert.deepEqual(rule.destinationRule.subsets, [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ]);
  });
});
