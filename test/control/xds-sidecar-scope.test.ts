// What a sidecar's outbound configuration holds: Istio's Sidecar resource (workload, namespace and mesh-wide defaults, `./`, `*/`, `~/`) and MeshConfig's default exportTo.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateClusters } from '../../src/control/xds/generate/cds.ts';
import { parseClusterName } from '../../src/control/xds/generate/common.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { type ProxyNode, proxyFromNode } from '../../src/control/xds/node.ts';
import { SnapshotResources } from '../../src/control/xds/resources.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { issuesOf } from '../config/util.ts';

function serviceEntry(name: string, namespace: string, host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
`;
}

function sidecarResource(
  namespace: string,
  hosts: string[],
  selector?: Record<string, string>,
  name = 'default',
) {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${selector ? `  workloadSelector: {labels: ${JSON.stringify(selector)}}\n` : ''}  egress: [{hosts: ${JSON.stringify(hosts)}}]
`;
}

const SERVICES = [
  serviceEntry('reviews', 'default', 'reviews.default.svc.cluster.local'),
  serviceEntry('api', 'default', 'api.example.com'),
  serviceEntry('ratings', 'prod', 'ratings.prod.svc.cluster.local'),
  serviceEntry('db', 'prod', 'db.prod.example.com'),
];

function meshOf(...docs: string[]): MeshSnapshot {
  const resources = parseResources(docs.join('---\n'), 'mesh.yaml').map((d) => d.resource);
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

function proxy(namespace: string, app: string, role = 'sidecar'): ProxyNode {
  return proxyFromNode({
    id: `${app}-1`,
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      WEFT_ROLE: role,
      NAMESPACE: namespace,
      LABELS: { app },
      WEFT_SERVICE: app,
      WEFT_SERVICE_PORT: '80',
      WEFT_APP_PORT: '8080',
    }),
  });
}

/** The hosts of the outbound clusters and of the `outbound` route's virtual hosts a proxy gets. */
function seen(snapshot: MeshSnapshot, node: ProxyNode): { clusters: string[]; routes: string[] } {
  const ctx = { snapshot, proxy: node, warn: () => {} };
  const clusters = generateClusters(ctx, undefined)
    .map((c) => parseClusterName(c.name))
    .filter((p) => p?.direction === 'outbound')
    .map((p) => p!.host);
  const outbound = generateRoutes(ctx, ['outbound'])[0]?.resource as
    | { virtual_hosts?: { name: string }[] }
    | undefined;
  // The passthrough virtual host (outboundTrafficPolicy ALLOW_ANY) is there whatever the scope.
  const routes = (outbound?.virtual_hosts ?? [])
    .map((v) => v.name.replace(/:\d+$/, ''))
    .filter((name) => name !== 'allow_any');
  return { clusters: [...new Set(clusters)].sort(), routes: [...new Set(routes)].sort() };
}

describe('Sidecar scoping', () => {
  test('without a Sidecar a proxy gets every service', () => {
    const { clusters } = seen(meshOf(...SERVICES), proxy('default', 'productpage'));
    assert.deepEqual(clusters, [
      'api.example.com',
      'db.prod.example.com',
      'ratings.prod.svc.cluster.local',
      'reviews.default.svc.cluster.local',
    ]);
  });

  test('workload selector beats the namespace default, which beats the mesh default in the root namespace', () => {
    const snapshot = meshOf(
      ...SERVICES,
      // Mesh-wide: `./` is the proxy's own namespace.
      sidecarResource('istio-system', ['./*']),
      sidecarResource('prod', ['*/*.example.com']),
      sidecarResource(
        'default',
        ['prod/ratings.prod.svc.cluster.local'],
        { app: 'productpage' },
        'productpage',
      ),
    );
    const productpage = seen(snapshot, proxy('default', 'productpage'));
    assert.deepEqual(productpage.clusters, ['ratings.prod.svc.cluster.local']);
    assert.deepEqual(productpage.routes, ['ratings.prod.svc.cluster.local']);
    assert.deepEqual(seen(snapshot, proxy('default', 'details')).clusters, [
      'api.example.com',
      'reviews.default.svc.cluster.local',
    ]);
    assert.deepEqual(seen(snapshot, proxy('prod', 'worker')).clusters, [
      'api.example.com',
      'db.prod.example.com',
    ]);
    assert.deepEqual(
      seen(snapshot, proxy('staging', 'job')).clusters,
      [],
      'the mesh default: staging has none',
    );
    // Gateways are not scoped by Sidecars.
    assert.equal(seen(snapshot, proxy('default', 'ingress', 'gateway')).clusters.length, 4);
  });

  test('`~/` takes in nothing; `*/` any namespace; the oldest of two namespace defaults wins', () => {
    const none = meshOf(...SERVICES, sidecarResource('default', ['~/*']));
    assert.deepEqual(seen(none, proxy('default', 'a')).clusters, []);
    const two = meshOf(
      ...SERVICES,
      sidecarResource('default', ['*/reviews.default.svc.cluster.local'], undefined, 'first'),
      sidecarResource('default', ['*/*'], undefined, 'second'),
    );
    assert.deepEqual(seen(two, proxy('default', 'a')).clusters, ['reviews.default.svc.cluster.local']);
  });

  test('bad egress hosts and per-port egress listeners are refused with the field', () => {
    const issues = issuesOf(() =>
      parseResources(
        `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: bad}
spec:
  egress:
  - hosts: [reviews.default.svc.cluster.local, "./re*views"]
    port: {number: 9080, protocol: HTTP, name: http}
  ingress: []
`,
        'sidecar.yaml',
      ),
    );
    assert.deepEqual(
      issues.map((i) => i.field),
      ['spec.egress[0].hosts[0]', 'spec.egress[0].hosts[1]', 'spec.egress[0].port', 'spec.ingress'],
    );
    assert.match(issues[0].message, /namespace\/dnsName/);
    assert.equal(issues[2].reason, 'unsupported');
  });

  test("a change to a service outside a proxy's scope leaves its sets (and their versions) as they were: nothing to push", () => {
    const scope = sidecarResource('default', ['./reviews.default.svc.cluster.local']);
    const route = (timeout: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: prod}
spec:
  hosts: [ratings.prod.svc.cluster.local]
  http:
  - timeout: ${timeout}
    route: [{destination: {host: ratings.prod.svc.cluster.local}}]
`;
    const before = new SnapshotResources(meshOf(...SERVICES, scope, route('1s')), () => {});
    const after = new SnapshotResources(meshOf(...SERVICES, scope, route('2s')), () => {});
    const versions = (resources: SnapshotResources, node: ProxyNode) => [
      resources.resourceSet(node, TYPE_URL.cluster).version,
      resources.resourceSet(node, TYPE_URL.route, new Set(['outbound'])).version,
    ];
    const scoped = proxy('default', 'productpage');
    assert.deepEqual(versions(after, scoped), versions(before, scoped));
    const unscoped = proxy('prod', 'worker');
    assert.notDeepEqual(versions(after, unscoped)[1], versions(before, unscoped)[1]);
  });
});

function meshConfig(fields: string): string {
  return `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec: {${fields}}
`;
}

describe("MeshConfig's default exportTo (Istio's defaultServiceExportTo, defaultVirtualServiceExportTo, defaultDestinationRuleExportTo)", () => {
  test("defaultServiceExportTo ['.']: a proxy gets only its own namespace's services; a ServiceEntry's own exportTo wins", () => {
    const exported = `${serviceEntry('payments', 'prod', 'payments.prod.svc.cluster.local').trimEnd()}\n  exportTo: [default]\n`;
    const snapshot = meshOf(...SERVICES, exported, meshConfig("defaultServiceExportTo: ['.']"));
    assert.deepEqual(seen(snapshot, proxy('default', 'productpage')), {
      clusters: ['api.example.com', 'payments.prod.svc.cluster.local', 'reviews.default.svc.cluster.local'],
      routes: ['api.example.com', 'payments.prod.svc.cluster.local', 'reviews.default.svc.cluster.local'],
    });
    assert.deepEqual(seen(snapshot, proxy('prod', 'worker')).clusters, [
      'db.prod.example.com',
      'ratings.prod.svc.cluster.local',
    ]);
    assert.deepEqual(seen(snapshot, proxy('staging', 'job')).clusters, []);
    // Visibility is per namespace: the proxy gets no cluster by name that it may not see either.
    const ctx = { snapshot, proxy: proxy('staging', 'job'), warn: () => {} };
    assert.deepEqual(generateClusters(ctx, ['outbound|80||ratings.prod.svc.cluster.local']), []);
  });

  test("defaultVirtualServiceExportTo ['.']: another namespace's VirtualService does not route this proxy's requests; its own exportTo wins", () => {
    const vs = (exportTo: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: prod}
spec:
  hosts: [ratings.prod.svc.cluster.local]
${exportTo}  http: [{timeout: 7s, route: [{destination: {host: ratings.prod.svc.cluster.local}}]}]
`;
    const timeoutFor = (snapshot: MeshSnapshot, namespace: string) => {
      const ctx = { snapshot, proxy: proxy(namespace, 'app'), warn: () => {} };
      const outbound = generateRoutes(ctx, ['outbound'])[0]?.resource as {
        virtual_hosts: { name: string; routes: { route?: { timeout?: { seconds?: number } } }[] }[];
      };
      const host = outbound.virtual_hosts.find((v) => v.name.startsWith('ratings.prod.svc.cluster.local'));
      return host?.routes.some((r) => Number(r.route?.timeout?.seconds) === 7) ? 7 : 0;
    };
    const hidden = meshOf(...SERVICES, vs(''), meshConfig("defaultVirtualServiceExportTo: ['.']"));
    assert.equal(timeoutFor(hidden, 'prod'), 7, 'its own namespace uses it');
    assert.notEqual(timeoutFor(hidden, 'default'), 7, 'another namespace gets the default route');
    const shared = meshOf(
      ...SERVICES,
      vs("  exportTo: ['*']\n"),
      meshConfig("defaultVirtualServiceExportTo: ['.']"),
    );
    assert.equal(timeoutFor(shared, 'default'), 7);
  });

  test("defaultDestinationRuleExportTo ['.']: another namespace's proxies get no subset clusters of the rule; its own exportTo wins", () => {
    const rule = (exportTo: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: prod}
spec:
  host: ratings.prod.svc.cluster.local
${exportTo}  subsets: [{name: v1, labels: {version: v1}}]
`;
    const subsets = (snapshot: MeshSnapshot, namespace: string) =>
      generateClusters({ snapshot, proxy: proxy(namespace, 'app'), warn: () => {} }, undefined).flatMap(
        (c) => {
          const p = parseClusterName(c.name);
          return p?.direction === 'outbound' && p.subset !== undefined ? [`${p.subset}|${p.host}`] : [];
        },
      );
    const hidden = meshOf(...SERVICES, rule(''), meshConfig("defaultDestinationRuleExportTo: ['.']"));
    assert.deepEqual(subsets(hidden, 'prod'), ['v1|ratings.prod.svc.cluster.local']);
    assert.deepEqual(subsets(hidden, 'default'), []);
    const shared = meshOf(
      ...SERVICES,
      rule('  exportTo: [default]\n'),
      meshConfig("defaultDestinationRuleExportTo: ['.']"),
    );
    assert.deepEqual(subsets(shared, 'default'), ['v1|ratings.prod.svc.cluster.local']);
  });

  test('entries are ".", "*", "~" or namespace names; "*" and "~" stand alone', () => {
    const issues = (fields: string) =>
      issuesOf(() => parseResources(meshConfig(fields), 'mesh.yaml')).map((i) => `${i.field}: ${i.message}`);
    parseResources(
      meshConfig("defaultServiceExportTo: ['.', 'prod'], defaultVirtualServiceExportTo: ['*']"),
      'ok.yaml',
    );
    assert.deepEqual(issues("defaultServiceExportTo: ['Not_A_Namespace']"), [
      'spec.defaultServiceExportTo[0]: must be ".", "*", "~" or a namespace name, got "Not_A_Namespace"',
    ]);
    assert.deepEqual(issues("defaultDestinationRuleExportTo: ['*', '.']"), [
      'spec.defaultDestinationRuleExportTo: "*" and "~" cannot be combined with other entries',
    ]);
  });
});
