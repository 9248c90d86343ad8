// buildSnapshot: services from ServiceEntries and sidecars, endpoints, routing indexes, determinism, immutability.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { destinationRuleFor, exportedTo } from '../../src/model/lookup.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { MeshSnapshot, Workload } from '../../src/model/types.ts';

/** Resources from YAML, with creation times in document order (one second apart). */
function resources(text: string): Resource[] {
  return parseResources(text, 'test.yaml').map(({ resource }, i) => ({
    ...resource,
    metadata: {
      ...resource.metadata,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    },
  }));
}

function sidecar(name: string, service: string, extra: Partial<Workload> = {}): Workload {
  return {
    uid: `proxy~${name}`,
    name,
    namespace: 'default',
    address: '127.0.0.1',
    labels: { app: service, version: 'v1' },
    serviceAccount: service,
    ports: {},
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
    service: { name: service, port: 9080, protocol: 'HTTP' },
    ...extra,
  };
}

function build(text: string, workloads: Workload[] = [], version = 1): MeshSnapshot {
  return snapshotFromResources({ resources: resources(text), workloads, mesh: DEFAULT_MESH, version });
}

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

const REVIEWS_HOST = 'reviews.default.svc.cluster.local';

describe('buildSnapshot', () => {
  test('sidecar workloads create their implicit service, selected by app=<service>', () => {
    const v1 = sidecar('reviews-1', 'reviews');
    const v2 = sidecar('reviews-2', 'reviews', {
      labels: { app: 'reviews', version: 'v2' },
      address: '127.0.0.2',
    });
    const other = sidecar('reviews-prod', 'reviews', { namespace: 'prod' });
    const grpc = sidecar('reviews-grpc', 'reviews', {
      service: { name: 'reviews', port: 9090, protocol: 'GRPC' },
    });
    const snapshot = build('', [v1, v2, other, grpc]);

    assert.deepEqual([...snapshot.services.keys()], [REVIEWS_HOST, 'reviews.prod.svc.cluster.local']);
    assert.deepEqual(snapshot.services.get(REVIEWS_HOST), {
      hostname: REVIEWS_HOST,
      name: 'reviews',
      namespace: 'default',
      ports: [
        { number: 9080, name: 'http-9080', protocol: 'HTTP' },
        { number: 9090, name: 'grpc-9090', protocol: 'GRPC' },
      ],
      selector: { app: 'reviews' },
      endpoints: [],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      subjectAltNames: [],
      origin: { kind: 'Sidecar', namespace: 'default', name: 'reviews' },
    });
    assert.deepEqual(
      snapshot.endpointsByHost.get(REVIEWS_HOST)?.map((w) => w.uid),
      ['proxy~reviews-1', 'proxy~reviews-2', 'proxy~reviews-grpc'],
    );
    assert.deepEqual(
      snapshot.endpointsByHost.get('reviews.prod.svc.cluster.local')?.map((w) => w.uid),
      ['proxy~reviews-prod'],
    );
  });

  test('subset labels, an 80/20 split and the DestinationRule for the host', () => {
    const snapshot = build(REVIEWS, [
      sidecar('reviews-1', 'reviews'),
      sidecar('reviews-2', 'reviews', { labels: { app: 'reviews', version: 'v2' } }),
    ]);
    const [vs] = snapshot.virtualServicesByHost.get(REVIEWS_HOST) ?? [];
    assert.deepEqual(vs.http[0].route, [
      { host: REVIEWS_HOST, subset: 'v1', weight: 80 },
      { host: REVIEWS_HOST, subset: 'v2', weight: 20 },
    ]);
    const rule = snapshot.destinationRules.get(REVIEWS_HOST);
    assert.deepEqual(rule?.subsets, [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ]);
    // Each subset's labels pick the endpoints of that version.
    const endpoints = snapshot.endpointsByHost.get(REVIEWS_HOST) ?? [];
    for (const subset of rule?.subsets ?? [])
      assert.deepEqual(
        endpoints
          .filter((w) => Object.entries(subset.labels).every(([k, v]) => w.labels[k] === v))
          .map((w) => w.name),
        [subset.name === 'v1' ? 'reviews-1' : 'reviews-2'],
      );
    assert.equal(destinationRuleFor(snapshot, REVIEWS_HOST), rule);
  });

  test('a single destination is normalised to weight 100', () => {
    const snapshot = build(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`,
      [sidecar('reviews-1', 'reviews')],
    );
    assert.deepEqual(snapshot.virtualServices[0].http[0].route, [{ host: REVIEWS_HOST, weight: 100 }]);
  });

  test('short hosts are qualified relative to the namespace of the resource naming them', () => {
    const snapshot = build(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: prod}
spec:
  hosts: [reviews, ratings.default, httpbin.org, "*.example.com"]
  http: [{route: [{destination: {host: reviews.default}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: prod}
spec: {host: reviews}
`,
    );
    assert.deepEqual(snapshot.virtualServices[0].hosts, [
      'reviews.prod.svc.cluster.local',
      'ratings.default.svc.cluster.local',
      'httpbin.org',
      '*.example.com',
    ]);
    assert.equal(snapshot.virtualServices[0].http[0].route?.[0].host, REVIEWS_HOST);
    assert.deepEqual([...snapshot.destinationRules.keys()], ['reviews.prod.svc.cluster.local']);
  });

  test('a ServiceEntry with STATIC endpoints; its selector also picks WorkloadEntries in its namespace', () => {
    const snapshot = build(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp-pg}]
  resolution: STATIC
  endpoints:
  - {address: 10.0.0.2}
  - {address: 10.0.0.1, weight: 2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm}
spec:
  hosts: [vm]
  ports: [{number: 80, name: http}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1}
spec: {address: 10.1.0.1, labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-elsewhere, namespace: other}
spec: {address: 10.1.0.2, labels: {app: vm}}
`);
    assert.deepEqual(
      snapshot.endpointsByHost.get('db.example.com')?.map((w) => [w.uid, w.address, w.weight, w.source]),
      [
        ['ServiceEntry/default/db/0', '10.0.0.2', 1, 'ServiceEntry'],
        ['ServiceEntry/default/db/1', '10.0.0.1', 2, 'ServiceEntry'],
      ],
    );
    assert.equal(snapshot.services.get('db.example.com')?.ports[0].protocol, 'TCP');
    assert.deepEqual(
      snapshot.endpointsByHost.get('vm.default.svc.cluster.local')?.map((w) => w.uid),
      ['WorkloadEntry/default/vm-1'],
    );
    assert.deepEqual(
      snapshot.workloads.map((w) => w.uid),
      ['WorkloadEntry/default/vm-1', 'WorkloadEntry/other/vm-elsewhere'],
    );
  });

  test('a ServiceEntry for a sidecar service host replaces the implicit service; the sidecar matches its selector', () => {
    const snapshot = build(
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews]
  ports: [{number: 80, name: http-web, targetPort: 9080}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: reviews}}
`,
      [sidecar('reviews-1', 'reviews')],
    );
    const service = snapshot.services.get(REVIEWS_HOST);
    assert.equal(service?.origin.kind, 'ServiceEntry');
    assert.deepEqual(service?.ports, [{ number: 80, name: 'http-web', protocol: 'HTTP', targetPort: 9080 }]);
    assert.deepEqual(
      snapshot.endpointsByHost.get(REVIEWS_HOST)?.map((w) => w.uid),
      ['proxy~reviews-1'],
    );
  });

  test('VirtualServices by host: mesh-bound only, exact before wildcard, oldest first', () => {
    const vs = (name: string, hosts: string, gateways = '') =>
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: ${hosts}
${gateways}  http: [{route: [{destination: {host: reviews}}]}]
---
`;
    const snapshot = build(
      vs('wide', '["*.cluster.local"]') +
        vs('svc', '["*.svc.cluster.local"]') +
        vs('old-exact', '[reviews]') +
        vs('new-exact', '[reviews.default.svc.cluster.local]') +
        vs('gateway-only', '[reviews]', '  gateways: [ingress]\n') +
        vs('both', '[reviews]', '  gateways: [ingress, mesh]\n') +
        vs('unrelated', '[ratings]'),
      [sidecar('reviews-1', 'reviews')],
    );
    assert.deepEqual(
      snapshot.virtualServicesByHost.get(REVIEWS_HOST)?.map((v) => v.name),
      ['old-exact', 'new-exact', 'both', 'svc', 'wide'],
    );
    assert.deepEqual([...snapshot.virtualServicesByHost.keys()], [REVIEWS_HOST]);
    assert.deepEqual(
      snapshot.virtualServices.map((v) => v.name),
      ['both', 'gateway-only', 'new-exact', 'old-exact', 'svc', 'unrelated', 'wide'],
    );
  });

  test("DestinationRules: the rule in the service's namespace wins, else the oldest", () => {
    const dr = (name: string, namespace: string, host: string) =>
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec: {host: ${host}, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---
`;
    const snapshot = build(
      dr('from-prod', 'prod', REVIEWS_HOST) +
        dr('home', 'default', 'reviews') +
        dr('first', 'a', 'api.example.com') +
        dr('second', 'b', 'api.example.com') +
        dr('wild', 'default', '"*.example.com"'),
      [sidecar('reviews-1', 'reviews')],
    );
    assert.equal(snapshot.destinationRules.get(REVIEWS_HOST)?.name, 'home');
    assert.equal(snapshot.destinationRules.get('api.example.com')?.name, 'first');
    assert.equal(destinationRuleFor(snapshot, 'web.example.com')?.name, 'wild');
    assert.equal(destinationRuleFor(snapshot, 'example.org'), undefined);
  });

  test('stored resources that no longer validate are left out and listed; other kinds are skipped', () => {
    const good = resources(REVIEWS);
    const broken: Resource = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'broken', namespace: 'default' },
      spec: {
        hosts: ['reviews'],
        http: [
          { route: [{ destination: { host: 'reviews' }, weight: 0 }, { destination: { host: 'reviews' } }] },
        ],
      },
    };
    const foreign: Resource = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'p', namespace: 'default' },
      spec: { action: 'ALLOW' },
    };
    const snapshot = snapshotFromResources({
      resources: [...good, broken, foreign],
      workloads: [],
      mesh: DEFAULT_MESH,
      version: 7,
    });
    assert.equal(snapshot.version, 7);
    assert.deepEqual(snapshot.rejected, [
      {
        kind: 'VirtualService',
        namespace: 'default',
        name: 'broken',
        issues: ['spec.http[0].route: every destination weight is 0 (0 + 0); give at least one a weight'],
      },
    ]);
    assert.deepEqual(
      snapshot.virtualServices.map((v) => v.name),
      ['reviews'],
    );
  });

  test('deterministic: the same input in any order gives deep-equal snapshots', () => {
    const text = `${REVIEWS}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec: {hosts: [a.example.com, b.example.com], ports: [{number: 443, name: tls}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1}
spec: {address: 10.1.0.1, labels: {app: reviews, version: v2}}
`;
    const input = resources(text);
    const workloads = [sidecar('b', 'reviews'), sidecar('a', 'reviews'), sidecar('c', 'ratings')];
    const first = snapshotFromResources({ resources: input, workloads, mesh: DEFAULT_MESH, version: 3 });
    const second = snapshotFromResources({
      resources: [...input].reverse(),
      workloads: [...workloads].reverse(),
      mesh: { ...DEFAULT_MESH },
      version: 3,
    });
    assert.deepEqual(second, first);
    assert.deepEqual(JSON.stringify([...second.services.keys()]), JSON.stringify([...first.services.keys()]));
    assert.deepEqual(
      first.endpointsByHost.get(REVIEWS_HOST)?.map((w) => w.uid),
      ['proxy~a', 'proxy~b', 'WorkloadEntry/default/vm-1'],
    );
  });

  test('immutable: frozen objects, maps that refuse writes, inputs left alone', () => {
    const workload = sidecar('reviews-1', 'reviews');
    const snapshot = build(REVIEWS, [workload]);
    assert.ok(Object.isFrozen(snapshot));
    assert.ok(Object.isFrozen(snapshot.virtualServices[0].http[0].route));
    assert.ok(Object.isFrozen(snapshot.endpointsByHost.get(REVIEWS_HOST)?.[0].labels));
    assert.throws(() => (snapshot.services as Map<string, unknown>).set('x', {}), TypeError);
    assert.throws(() => (snapshot.destinationRules as Map<string, unknown>).delete(REVIEWS_HOST), TypeError);
    assert.ok(!Object.isFrozen(workload));
    assert.ok(!Object.isFrozen(workload.labels));
  });
});

describe('exportedTo', () => {
  const own = (exportTo?: string[]) => ({ namespace: 'a', exportTo });
  test("a resource's own exportTo: namespaces, * and ~", () => {
    assert.ok(exportedTo(DEFAULT_MESH, 'service', own(), 'b'), 'absent: everywhere');
    assert.ok(exportedTo(DEFAULT_MESH, 'service', own(['*']), 'b'));
    assert.ok(exportedTo(DEFAULT_MESH, 'service', own(['a', 'b']), 'b'));
    assert.ok(!exportedTo(DEFAULT_MESH, 'service', own(['c']), 'b'));
    assert.ok(!exportedTo(DEFAULT_MESH, 'service', own(['~']), 'a'));
  });
  test("MeshConfig's default applies to a resource without exportTo ('.' is its own namespace); its own wins", () => {
    const mesh = { ...DEFAULT_MESH, defaultExportTo: { service: ['.'], virtualService: ['.', 'c'] } };
    assert.ok(exportedTo(mesh, 'service', own(), 'a'));
    assert.ok(!exportedTo(mesh, 'service', own(), 'b'));
    assert.ok(exportedTo(mesh, 'service', own(['*']), 'b'), 'its own exportTo wins');
    assert.ok(exportedTo(mesh, 'virtualService', own(), 'c'));
    assert.ok(!exportedTo(mesh, 'virtualService', own(), 'b'));
    assert.ok(exportedTo(mesh, 'destinationRule', own(), 'b'), 'no default for the kind: everywhere');
  });
});
