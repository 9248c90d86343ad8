// CompiledStore: each resource compiled once per revision; only what a namespace change affects is compiled again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { CompiledStore } from '../../src/control/compiled-store.ts';
import type { StoreEvent } from '../../src/control/store/store.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { MeshSnapshot, Workload } from '../../src/model/types.ts';

/** The documents of `text` as the store keeps them: revision `revision`, created in document order. */
function stored(text: string, revision = 1): Resource[] {
  return parseResources(text, 'test.yaml').map(({ resource }, i) => ({
    ...resource,
    metadata: {
      ...resource.metadata,
      resourceVersion: String(revision),
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    },
  }));
}

const put = (resource: Resource, revision: number): StoreEvent => ({ type: 'put', resource, revision });

function sidecar(name: string, namespace = 'default', service = 'reviews'): Workload {
  return {
    uid: `proxy~${name}`,
    name,
    namespace,
    address: `10.0.0.${name.length}`,
    labels: { app: service, version: 'v1' },
    serviceAccount: service,
    ports: {},
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
    service: { name: service, port: 9080, protocol: 'HTTP' },
  };
}

// `ratings.prod` is qualified only once a namespace `prod` exists (a resource or a workload in it).
const RESOURCES = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: to-prod}
spec:
  hosts: [ratings.prod]
  http:
  - route: [{destination: {host: ratings.prod}}]
`;

function rebuild(store: CompiledStore, workloads: Workload[], version: number, previous?: MeshSnapshot) {
  return buildSnapshot({ config: store.view(workloads), workloads, version, previous });
}

describe('CompiledStore', () => {
  test('a resource is compiled once at load, then never again across rebuilds that only change workloads', () => {
    const store = new CompiledStore(DEFAULT_MESH);
    store.load(stored(RESOURCES));
    assert.equal(store.counters.compiles, 3);
    let snapshot = rebuild(store, [], 1);
    const workloads: Workload[] = [];
    for (let i = 0; i < 20; i++) {
      workloads.push(sidecar(`r${'x'.repeat(i)}`));
      snapshot = rebuild(store, workloads, i + 2, snapshot);
    }
    assert.equal(store.counters.compiles, 3, 'no resource compiled again');
    assert.equal(store.counters.assemblies, 1, 'the config part assembled once');
    assert.equal(snapshot.endpointsByHost.get('reviews.default.svc.cluster.local')?.length, 20);
    assert.deepEqual(
      snapshot.virtualServicesByHost.get('reviews.default.svc.cluster.local')?.map((vs) => vs.name),
      ['reviews'],
    );
  });

  test('a namespace that appears (a workload in it) recompiles only the resources that named it', () => {
    const store = new CompiledStore(DEFAULT_MESH);
    store.load(stored(RESOURCES));
    const before = rebuild(store, [sidecar('r1')], 1);
    assert.deepEqual(before.virtualServices.find((vs) => vs.name === 'to-prod')?.hosts, ['ratings.prod']);
    const after = rebuild(store, [sidecar('r1'), sidecar('p1', 'prod', 'ratings')], 2, before);
    assert.equal(store.counters.compiles, 4, 'only to-prod, which asked whether `prod` exists');
    assert.deepEqual(after.virtualServices.find((vs) => vs.name === 'to-prod')?.hosts, [
      'ratings.prod.svc.cluster.local',
    ]);
    assert.notEqual(
      after.configVersion,
      before.configVersion,
      'routes changed: not an endpoints-only change',
    );
    // The namespace goes away again: to-prod is read as before.
    const gone = rebuild(store, [sidecar('r1')], 3, after);
    assert.equal(store.counters.compiles, 5);
    assert.deepEqual(gone.virtualServices.find((vs) => vs.name === 'to-prod')?.hosts, ['ratings.prod']);
  });

  test('an apply compiles the new revision at once; the same revision again compiles nothing; a delete drops it', () => {
    const store = new CompiledStore(DEFAULT_MESH);
    const [vs, dr, toProd] = stored(RESOURCES);
    store.load([vs, dr]);
    const first = store.view([]);
    assert.equal(store.counters.compiles, 2);
    store.apply([put(toProd, 2)]);
    assert.equal(store.counters.compiles, 3, 'compiled when applied, before any rebuild');
    const second = store.view([]);
    assert.notEqual(second, first);
    assert.equal(second.virtualServices.length, 2);
    store.apply([put(toProd, 2)]);
    assert.equal(store.view([]), second, 'the same revision: same view, nothing compiled');
    assert.equal(store.counters.compiles, 3);
    const changed = { ...vs, metadata: { ...vs.metadata, resourceVersion: '3' } };
    store.apply([put(changed, 3)]);
    assert.equal(store.counters.compiles, 4);
    store.apply([{ type: 'delete', resource: toProd, revision: 4 }]);
    assert.deepEqual(
      store.view([]).virtualServices.map((v) => v.name),
      ['reviews'],
    );
    assert.equal(store.counters.compiles, 4);
  });

  test('a MeshConfig is compiled on its own and changes the mesh settings of the next snapshot', () => {
    const store = new CompiledStore(DEFAULT_MESH);
    store.load(stored(RESOURCES));
    const before = rebuild(store, [], 1);
    assert.equal(before.mesh.outboundTrafficPolicy, 'ALLOW_ANY');
    const [meshConfig] = stored(
      `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
`,
      2,
    );
    store.apply([put(meshConfig, 2)]);
    const after = rebuild(store, [], 2, before);
    assert.equal(store.counters.compiles, 4, 'only the MeshConfig');
    assert.equal(after.mesh.outboundTrafficPolicy, 'REGISTRY_ONLY');
    assert.notEqual(after.configVersion, before.configVersion);
  });
});

describe('buildSnapshot with a previous snapshot', () => {
  test('a replica joining keeps configVersion and shares services and routing indexes', () => {
    const store = new CompiledStore(DEFAULT_MESH);
    store.load(stored(RESOURCES));
    const one = rebuild(store, [sidecar('r1')], 1);
    const two = rebuild(store, [sidecar('r1'), sidecar('r22')], 2, one);
    assert.equal(two.configVersion, one.configVersion);
    assert.equal(two.version, 2);
    assert.equal(two.services, one.services);
    assert.equal(two.virtualServicesByHost, one.virtualServicesByHost);
    assert.equal(two.destinationRules, one.destinationRules);
    assert.notEqual(two.endpointsByHost, one.endpointsByHost);
    // A replica running as another service account changes secure naming (CDS): a full change.
    const other = { ...sidecar('r333'), serviceAccount: 'intruder' };
    const three = rebuild(store, [sidecar('r1'), sidecar('r22'), other], 3, two);
    assert.equal(three.configVersion, 3);
    // A new service is a full change too.
    const four = rebuild(
      store,
      [sidecar('r1'), sidecar('r22'), sidecar('g1', 'default', 'ratings')],
      4,
      three,
    );
    assert.equal(four.configVersion, 4);
    assert.ok(four.services.has('ratings.default.svc.cluster.local'));
  });
});

test('a batch that puts and then deletes the same resource leaves it out', () => {
  const store = new CompiledStore(DEFAULT_MESH);
  const [vs, dr] = stored(RESOURCES);
  store.load([dr]);
  store.apply([put(vs, 2), { type: 'delete', resource: vs, revision: 2 }]);
  assert.deepEqual(store.view([]).virtualServices, []);
  store.apply([put(vs, 3)]);
  assert.deepEqual(
    store.view([]).virtualServices.map((v) => v.name),
    ['reviews'],
  );
});

test('sync: stored revisions are compiled once across calls, a request resource every time, the rest forgotten', () => {
  const store = new CompiledStore(DEFAULT_MESH);
  const [vs, dr, toProd] = stored(RESOURCES);
  store.sync([vs, dr], []);
  assert.equal(store.counters.compiles, 2);
  assert.equal(store.resultOf(vs)?.outcome, 'compiled');
  // The same revisions as other objects (a store hands out copies): nothing compiled, each object known.
  const copies = [structuredClone(vs), structuredClone(dr)];
  store.sync(copies, []);
  assert.equal(store.counters.compiles, 2);
  assert.equal(store.resultOf(copies[0])?.outcome, 'compiled');
  // A resource from a request (no revision) is compiled at every sync; one left out is forgotten.
  const { resourceVersion: _, ...metadata } = toProd.metadata;
  const request = { ...toProd, metadata };
  store.sync([vs, request], []);
  store.sync([vs, { ...request }], []);
  assert.equal(store.counters.compiles, 4);
  assert.deepEqual(
    store.view([]).virtualServices.map((v) => v.name),
    ['reviews', 'to-prod'],
  );
  assert.equal(store.resultOf(dr), undefined);
});
