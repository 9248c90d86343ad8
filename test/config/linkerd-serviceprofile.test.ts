// Linkerd ServiceProfile: routes become VirtualService routes for the host; the retry budget goes to its clusters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateClusters } from '../../src/control/xds/generate/cds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';

function snapshotOf(yaml: string) {
  const docs = yaml.split('\n---\n').map((d) => parseYaml(d));
  return snapshotFromResources({
    resources: validateResources(docs, 'sp.yaml'),
    workloads: [],
    mesh: { ...DEFAULT_MESH },
    version: 1,
  });
}

const PROFILE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: books, namespace: default}
spec:
  hosts: [books.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http}]
  workloadSelector: {labels: {app: books}}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: books.default.svc.cluster.local, namespace: default}
spec:
  routes:
  - name: GET /books/{id}
    condition: {method: GET, pathRegex: '/books/[^/]*'}
    isRetryable: true
    timeout: 300ms
  - name: POST or PUT /books
    condition:
      any:
      - {method: POST, pathRegex: /books}
      - {method: PUT, pathRegex: /books}
    responseClasses:
    - condition: {status: {min: 500, max: 503}}
      isFailure: true
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s}`;

test('routes: conditions, isRetryable, timeout, failure classes; a catch-all without retries', () => {
  const snap = snapshotOf(PROFILE);
  const vs = snap.virtualServicesByHost.get('books.default.svc.cluster.local')?.[0];
  assert.ok(vs);
  const [get, write, rest] = vs.http;
  assert.deepEqual(get.matches[0].method, { exact: 'GET' });
  assert.deepEqual(get.matches[0].uri, { regex: '/books/[^/]*' });
  assert.equal(get.timeoutMs, 300);
  assert.equal(get.retries?.attempts, 3);
  assert.deepEqual(get.retries?.retryOn, ['5xx']);
  assert.equal(write.matches.length, 2);
  assert.equal(write.retries?.attempts, 0, 'not retryable');
  assert.equal(rest.name, 'default');
  assert.deepEqual(snap.retryRatioBudgets?.get('books.default.svc.cluster.local'), {
    retryRatio: 0.2,
    minRetriesPerSecond: 10,
    ttlMs: 10_000,
  });
});

test('the budget travels as weft.retry_budget cluster metadata', () => {
  const proxy = proxyFromNode({
    id: 'client-1',
    metadata: jsonToStruct({ WEFT_SIDECAR: 'true', NAMESPACE: 'default', WEFT_SERVICE: 'client' }),
  });
  const [cluster] = generateClusters({ snapshot: snapshotOf(PROFILE), proxy, warn: () => {} }, [
    'outbound|80||books.default.svc.cluster.local',
  ]);
  const fields = (
    cluster.resource.metadata as { filter_metadata: Record<string, { fields: Record<string, unknown> }> }
  ).filter_metadata['weft.retry_budget'].fields;
  assert.deepEqual(fields.retryRatio, { numberValue: 0.2 });
  assert.deepEqual(fields.ttlMs, { numberValue: 10_000 });
});

test('negated conditions are refused', () => {
  assert.throws(
    () =>
      snapshotOf(`apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: books.default.svc.cluster.local, namespace: default}
spec:
  routes:
  - name: x
    condition: {not: {method: GET}}`),
    /negated conditions/,
  );
});
