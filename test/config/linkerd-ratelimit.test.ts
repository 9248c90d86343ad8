// Reading weft RateLimit and Linkerd HTTPLocalRateLimitPolicy, and the inbound rate limit filters they generate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import { compileListener } from '../../src/proxy/listener/listener-config.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct, structToJson } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

const sidecar = proxyFromNode({
  id: 'reviews-1',
  cluster: 'reviews',
  metadata: jsonToStruct({
    WEFT_SIDECAR: 'true',
    NAMESPACE: 'default',
    LABELS: { app: 'reviews' },
    WEFT_SERVICE: 'reviews',
    WEFT_SERVICE_PORT: '9080',
    WEFT_APP_PORT: '3000',
    WEFT_INBOUND_PORT: '15006',
    WEFT_OUTBOUND_PORT: '15001',
  }),
});

function snapshotOf(yaml: string) {
  const docs = yaml.split('\n---\n').map((d) => parseYaml(d));
  const resources = validateResources(docs, 'test.yaml');
  return snapshotFromResources({ resources, workloads: [], mesh: { ...DEFAULT_MESH }, version: 1 });
}

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
function inbound(yaml: string): { listener: any; warnings: string[] } {
  const warnings: string[] = [];
  const ctx = {
    snapshot: snapshotOf(yaml),
    proxy: sidecar,
    warn: (_k: string, m: string) => warnings.push(m),
  };
  const [r] = generateListeners(ctx, ['inbound']);
  assert.deepEqual(unknownFields(TYPE_URL.listener, r.resource), []);
  return {
    listener: decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, r.resource)),
    warnings,
  };
}

test('weft RateLimit: a smooth token bucket; default burst is one second at the rate', () => {
  const snap = snapshotOf(`apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: a, namespace: default}
spec:
  targetRef: {kind: Service, name: reviews}
  requestsPerUnit: 600
  unit: minute`);
  assert.deepEqual(snap.rateLimits, [
    {
      name: 'a',
      namespace: 'default',
      kind: 'RateLimit',
      host: 'reviews.default.svc.cluster.local',
      maxTokens: 10,
      tokensPerFill: 1,
      fillIntervalMs: 100,
    },
  ]);
});

const SERVICE_ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http}]
  workloadSelector: {labels: {app: reviews}}
---
`;

const LINKERD_POLICY = `${SERVICE_ENTRY}apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: l, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: reviews}
  total: {requestsPerSecond: 100}
  identity: {requestsPerSecond: 20}
  overrides:
  - requestsPerSecond: 25
    clientRefs:
    - {kind: ServiceAccount, name: special}
    - {kind: ServiceAccount, namespace: ops, name: batch}`;

test('Linkerd HTTPLocalRateLimitPolicy: total, identity and overrides by ServiceAccount', () => {
  const snap = snapshotOf(LINKERD_POLICY);
  assert.deepEqual(snap.rateLimits, []);
  assert.deepEqual(snap.identityRateLimits, [
    {
      name: 'l',
      namespace: 'default',
      host: 'reviews.default.svc.cluster.local',
      serverName: 'reviews',
      total: 100,
      identity: 20,
      overrides: [
        {
          requestsPerSecond: 25,
          clients: [
            { namespace: 'default', serviceAccount: 'special' },
            { namespace: 'ops', serviceAccount: 'batch' },
          ],
        },
      ],
    },
  ]);
  const policy = (spec: string) =>
    snapshotOf(`apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: l, namespace: default}
spec:
  targetRef: {kind: Server, name: reviews}
${spec}`);
  // Linkerd's admission rules: no client limit above total; an empty policy limits nothing.
  assert.throws(
    () => policy('  total: {requestsPerSecond: 10}\n  identity: {requestsPerSecond: 11}'),
    /identity.*more than total/s,
  );
  assert.throws(
    () =>
      policy(
        '  total: {requestsPerSecond: 10}\n  overrides: [{requestsPerSecond: 20, clientRefs: [{kind: ServiceAccount, name: a}]}]',
      ),
    /more than total/,
  );
  assert.throws(
    () => policy('  overrides: [{requestsPerSecond: 2, clientRefs: [{kind: Deployment, name: a}]}]'),
    /kind/,
  );
  assert.throws(() => policy(''), /limits nothing/);
  assert.equal(policy('  identity: {requestsPerSecond: 3}').identityRateLimits?.[0].identity, 3);
});

test('inbound listener: the Linkerd limit is Linkerd HttpLocalRateLimit in a TypedStruct, with SPIFFE IDs, that the proxy compiles', () => {
  const { listener, warnings } = inbound(LINKERD_POLICY);
  assert.deepEqual(warnings, []);
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  assert.deepEqual(
    hcm.http_filters.map((f: { name: string }) => f.name),
    ['io.linkerd.proxy.inbound.local_rate_limit', 'envoy.filters.http.router'],
  );
  const tc = hcm.http_filters[0].typed_config;
  assert.equal(tc['@type'], 'type.googleapis.com/xds.type.v3.TypedStruct');
  assert.equal(tc.type_url, 'type.googleapis.com/io.linkerd.proxy.inbound.HttpLocalRateLimit');
  assert.deepEqual(structToJson(tc.value), {
    total: { requestsPerSecond: 100 },
    identity: { requestsPerSecond: 20 },
    overrides: [
      {
        limit: { requestsPerSecond: 25 },
        clients: {
          identities: [
            { name: 'spiffe://cluster.local/ns/default/sa/special' },
            { name: 'spiffe://cluster.local/ns/ops/sa/batch' },
          ],
        },
      },
    ],
  });
  // What a weft proxy does with it: compiled, with the override shared by both ServiceAccounts.
  const compiled = compileListener(camelize(listener) as Record<string, unknown>);
  const terminal = compiled.filterChains[0].terminal;
  assert.equal(terminal.kind, 'http');
  const filters = terminal.kind === 'http' ? terminal.hcm.filters : [];
  assert.deepEqual(
    filters.map((f) => f.name),
    ['io.linkerd.proxy.inbound.local_rate_limit'],
  );
});

test('inbound listener: local_ratelimit before the router; service-wide bucket on the default route, route-scoped ones in front', () => {
  const { listener, warnings } = inbound(`${SERVICE_ENTRY}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: api
    match: [{uri: {prefix: /api}, method: {exact: POST}}]
    route: [{destination: {host: reviews}}]
---
apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: all, namespace: default}
spec:
  targetRef: {name: reviews}
  requestsPerUnit: 20
---
apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: api, namespace: default}
spec:
  targetRef: {name: reviews}
  route: api
  requestsPerUnit: 5
  burst: 2`);
  assert.deepEqual(warnings, []);
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  assert.deepEqual(
    hcm.http_filters.map((f: { name: string }) => f.name),
    ['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router'],
  );
  const routes = hcm.route_config.virtual_hosts[0].routes;
  assert.deepEqual(
    routes.map((r: { name: string }) => r.name),
    ['ratelimit.api', 'default'],
  );
  assert.equal(routes[0].match.prefix, '/api');
  assert.equal(routes[0].match.headers[0].name, ':method');
  const api = routes[0].typed_per_filter_config['envoy.filters.http.local_ratelimit'];
  assert.equal(api.token_bucket.max_tokens, 2);
  assert.deepEqual(api.token_bucket.fill_interval, { nanos: 200_000_000 });
  const all = routes[1].typed_per_filter_config['envoy.filters.http.local_ratelimit'];
  assert.equal(all.token_bucket.max_tokens, 20);
  assert.equal(all.enable_x_ratelimit_headers, 'DRAFT_VERSION_03');
});

test('a limit targeting an existing Linkerd Server applies to its workloads on its port, whatever their service', () => {
  const withServer = (port: number) => `${SERVICE_ENTRY}apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: reviews-http, namespace: default}
spec:
  podSelector: {matchLabels: {app: reviews}}
  port: ${port}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: HTTPLocalRateLimitPolicy
metadata: {name: l, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: reviews-http}
  identity: {requestsPerSecond: 20}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: all, namespace: default}
spec:
  targetRef: {kind: Namespace, name: default}
  requiredAuthenticationRefs: []`;
  const names = (yaml: string) =>
    inbound(yaml).listener.filter_chains[0].filters[0].typed_config.http_filters.map(
      (f: { name: string }) => f.name,
    );
  // The sidecar's app port is 3000; the Server's name is not the service's.
  assert.deepEqual(names(withServer(3000)), [
    'io.linkerd.proxy.inbound.local_rate_limit',
    'envoy.filters.http.router',
  ]);
  assert.deepEqual(names(withServer(4000)), ['envoy.filters.http.router'], 'a Server of another port');
});
