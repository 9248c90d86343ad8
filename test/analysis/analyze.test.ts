// weft analyze: each analyzer finds its problem in a set of broken resources, with the field, its line and a fix hint.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { analyze, placeFinding } from '../../src/analysis/analyze.ts';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { DEFAULT_MESH } from '../../src/model/mesh.ts';
import { BROKEN, WORKLOADS } from '../helpers/analyze-fixture.ts';

function findings(workloadsKnown: boolean) {
  const parsed = parseResources(readFileSync(BROKEN, 'utf8'), 'broken.yaml');
  const resources = parsed.map((p) => p.resource);
  const snapshot = snapshotFromResources({
    resources,
    workloads: workloadsKnown ? WORKLOADS : [],
    mesh: DEFAULT_MESH,
    version: 1,
  });
  return analyze({ resources, snapshot, workloadsKnown }).map((f) =>
    placeFinding(f, (x) => {
      const p = parsed.find(
        (d) => d.resource.kind === x.resource.kind && d.resource.metadata.name === x.resource.name,
      );
      return p && { file: 'broken.yaml', ...p.place?.(x.path) };
    }),
  );
}

describe('weft analyze', () => {
  test('finds each problem with its field, line and a fix hint', () => {
    const found = findings(true);
    assert.deepEqual(
      found.map((f) => `${f.line}:${f.column} ${f.code} ${f.kind}/${f.name} ${f.field}`),
      [
        '79:5 SelectorMatchesNothing AuthorizationPolicy/deny-reviewz spec.selector.matchLabels',
        '40:3 DestinationRuleHostNotFound DestinationRule/details spec.host',
        '69:7 RouteNotAttached HTTPRoute/shop spec.parentRefs[0]',
        '47:11 ConflictingVirtualServices VirtualService/productpage-a spec.hosts[0]',
        '57:11 ConflictingVirtualServices VirtualService/productpage-b spec.hosts[0]',
        '33:26 HostNotFound VirtualService/ratings spec.http[0].route[0].destination.host',
        '12:41 SubsetNotFound VirtualService/reviews spec.http[0].route[1].destination.subset',
      ],
    );
    const subset = found.find((f) => f.code === 'SubsetNotFound');
    assert.match(
      subset?.message ?? '',
      /subset v3 is not defined by DestinationRule default\/reviews .* 503 \(NC\)/,
    );
    assert.match(
      subset?.hint ?? '',
      /add subset v3 to DestinationRule default\/reviews, or route to one it defines \(v1, v2\)/,
    );
    const route = found.find((f) => f.code === 'RouteNotAttached');
    assert.match(
      route?.message ?? '',
      /Gateway default\/missing-gateway \(gateway\.networking\.k8s\.io\) does not exist/,
    );
  });

  test('without the mesh workloads (files alone) host and selector checks do not run', () => {
    assert.deepEqual(
      findings(false)
        .map((f) => f.code)
        .sort(),
      ['ConflictingVirtualServices', 'ConflictingVirtualServices', 'RouteNotAttached', 'SubsetNotFound'],
    );
  });

  test('a correct configuration has no findings', () => {
    const text = readFileSync(BROKEN, 'utf8').split('---\n').slice(0, 2).join('---\n').replace('v3', 'v2');
    const resources = parseResources(text, 'ok.yaml').map((p) => p.resource);
    const snapshot = snapshotFromResources({
      resources,
      workloads: WORKLOADS,
      mesh: DEFAULT_MESH,
      version: 1,
    });
    assert.deepEqual(analyze({ resources, snapshot, workloadsKnown: true }), []);
  });
});

test('a backend in another namespace without a ReferenceGrant is reported with the grant to add', () => {
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: web, port: 80}]
  rules:
  - backendRefs: [{name: app, port: 80}, {name: store, namespace: infra, port: 80}]
`;
  const resources = parseResources(text, 'r.yaml').map((p) => p.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const [finding, ...rest] = analyze({ resources, snapshot, workloadsKnown: false });
  assert.equal(rest.length, 0);
  assert.equal(finding.code, 'BackendNotPermitted');
  assert.deepEqual(finding.path, ['spec', 'rules', 0, 'backendRefs', 1]);
  assert.match(
    finding.hint,
    /add a ReferenceGrant in namespace infra with from \{group: gateway\.networking\.k8s\.io, kind: HTTPRoute, namespace: shop\}/,
  );
});

test('RouteGroupNotFound: a TrafficSplit matching an HTTPRouteGroup that does not exist', () => {
  const text = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: ab, namespace: shop}
spec:
  service: website
  matches: [{kind: HTTPRouteGroup, name: ab-test}, {kind: HTTPRouteGroup, name: typo}]
  backends: [{service: website-v2, weight: 1}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: ab-test, namespace: shop}
spec:
  matches: [{name: firefox, headers: {user-agent: ".*Firefox.*"}}]
`;
  const parsed = parseResources(text, 'split.yaml');
  const resources = parsed.map((p) => p.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const found = analyze({ resources, snapshot, workloadsKnown: false }).map((f) =>
    placeFinding(f, (x) => ({ file: 'split.yaml', ...parsed[0].place?.(x.path) })),
  );
  assert.deepEqual(
    found.map((f) => `${f.line}:${f.column} ${f.code} ${f.kind}/${f.name} ${f.field}`),
    ['6:75 RouteGroupNotFound TrafficSplit/ab spec.matches[1].name'],
  );
  assert.match(found[0].hint, /apply an HTTPRouteGroup named typo in shop/);
});

test('ServerNotFound and AuthenticationNotFound: Linkerd policies naming what does not exist', () => {
  const text = `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: emoji, namespace: emojivoto}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: emoji-grpc}
  requiredAuthenticationRefs:
  - {kind: ServiceAccount, name: web}
  - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: typo}
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: old, namespace: emojivoto}
spec:
  server: {name: gone}
  client: {unauthenticated: true}
`;
  const parsed = parseResources(text, 'authz.yaml');
  const resources = parsed.map((p) => p.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  const found = analyze({ resources, snapshot, workloadsKnown: false }).map((f) => placeFinding(f));
  assert.deepEqual(
    found.map((f) => `${f.code} ${f.kind}/${f.name} ${f.field}`),
    [
      'AuthenticationNotFound AuthorizationPolicy/emoji spec.requiredAuthenticationRefs[1].name',
      'ServerNotFound AuthorizationPolicy/emoji spec.targetRef.name',
      'ServerNotFound ServerAuthorization/old spec.server.name',
    ],
  );
  assert.match(found[0].message, /no MeshTLSAuthentication typo in namespace emojivoto: .* admit no one/);
  const fixed = `${text}---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: emoji-grpc, namespace: emojivoto}
spec: {podSelector: {matchLabels: {app: emoji}}, port: 8080}
`;
  const all = parseResources(fixed, 'authz.yaml').map((p) => p.resource);
  const again = snapshotFromResources({ resources: all, workloads: [], mesh: DEFAULT_MESH, version: 1 });
  assert.deepEqual(
    analyze({ resources: all, snapshot: again, workloadsKnown: false }).map((f) => f.code),
    ['AuthenticationNotFound', 'ServerNotFound'],
  );
});

test('SelectorMatchesNothing: a Linkerd Server whose podSelector matches no workload of its namespace', () => {
  const server = (app: string) => `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: s, namespace: default}
spec: {podSelector: {matchLabels: {app: ${app}}}, port: 9080}
`;
  const run = (text: string) => {
    const resources = parseResources(text, 's.yaml').map((p) => p.resource);
    const snapshot = snapshotFromResources({
      resources,
      workloads: WORKLOADS,
      mesh: DEFAULT_MESH,
      version: 1,
    });
    return analyze({ resources, snapshot, workloadsKnown: true }).map((f) => placeFinding(f));
  };
  assert.deepEqual(run(server('ratings')), []);
  const found = run(server('reveiws'));
  assert.deepEqual(
    found.map((f) => `${f.code} ${f.kind}/${f.name} ${f.field}`),
    ['SelectorMatchesNothing Server/s spec.podSelector.matchLabels'],
  );
  assert.match(found[0].message, /podSelector app=reveiws matches no workload in namespace default/);
});

test("HostNotExported: a route to a service that MeshConfig's defaultServiceExportTo keeps in its namespace; its own exportTo wins", () => {
  const yaml = (exportTo: string) => `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec: {defaultServiceExportTo: ['.']}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: shop}
spec:
  hosts: [orders.shop.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.9}]
${exportTo}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orders, namespace: web}
spec:
  hosts: [orders.shop.svc.cluster.local]
  http: [{route: [{destination: {host: orders.shop.svc.cluster.local}}]}]
`;
  const run = (text: string) => {
    const resources = parseResources(text, 'x.yaml').map((p) => p.resource);
    const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
    return analyze({ resources, snapshot, workloadsKnown: false }).map((f) => placeFinding(f));
  };
  const found = run(yaml(''));
  assert.deepEqual(
    found.map((f) => `${f.code} ${f.kind}/${f.name} ${f.field}`),
    ['HostNotExported VirtualService/orders spec.http[0].route[0].destination.host'],
  );
  assert.match(found[0].message, /not exported to namespace web .*defaultServiceExportTo/);
  assert.deepEqual(run(yaml('  exportTo: [web]\n')), [], 'exported to the route by its own exportTo');
});
