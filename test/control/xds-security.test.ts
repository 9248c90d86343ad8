// Security generator, simulation style: policy YAML → snapshot → inbound listener → the proxy's own HCM/filter
// parsing → a request's fate (allowed, 401, 403), with no process started.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { GENERATOR_PARTS } from '../../src/control/xds/generate/index.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { inboundMtlsMode, inboundSecurityFilters } from '../../src/control/xds/generate/security.ts';
import { type ProxyNode, proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';
import type { Msg } from '../../src/proxy/common/fields.ts';
import { compileHcm } from '../../src/proxy/http/connection-manager-config.ts';
import type { HttpFilterConfig } from '../../src/proxy/http/filters/filter.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource, unknownFields } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { epoch, jwks, makeKey, sign } from '../proxy/jwt-helpers.ts';
import { RecordingStream, type RequestSpec } from '../proxy/rbac-helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
type Obj = Record<string, any>;

const APP_PORT = 3000;

/** A weft sidecar of `httpbin` in namespace `foo`, service account `httpbin`, app port 3000. */
function sidecar(overrides: Record<string, unknown> = {}): ProxyNode {
  return proxyFromNode({
    id: 'httpbin-1',
    cluster: 'httpbin',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'foo',
      SERVICE_ACCOUNT: 'httpbin',
      LABELS: { app: 'httpbin', version: 'v1' },
      WEFT_SERVICE: 'httpbin',
      WEFT_SERVICE_PORT: '8000',
      WEFT_APP_PORT: String(APP_PORT),
      ...overrides,
    }),
  });
}

function snapshotOf(yaml: string): MeshSnapshot {
  const resources: Resource[] =
    yaml.trim() === '' ? [] : parseResources(yaml, 'policy.yaml').map((d) => d.resource);
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

interface Inbound {
  /** The inbound listener as the proxy decodes it. */
  listener: Obj;
  /** The HCM's non-router filters, parsed by the proxy's own HCM compiler. */
  filters: HttpFilterConfig[];
  warnings: string[];
}

/** Generates the inbound listener for `proxy` under `yaml`, sends it through the proto, and parses its HCM as the proxy does. */
function inbound(yaml: string, proxy = sidecar()): Inbound {
  const warnings: string[] = [];
  const ctx = {
    snapshot: snapshotOf(yaml),
    proxy,
    warn: (_key: string, message: string) => warnings.push(message),
  };
  const [generated] = generateListeners(ctx, ['inbound']);
  assert.ok(generated, `no inbound listener (${warnings.join('; ')})`);
  assert.deepEqual(
    unknownFields(TYPE_URL.listener, generated.resource),
    [],
    'fields the proto does not have',
  );
  const listener = camelize(
    decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, generated.resource)),
  ) as Obj;
  const hcm = listener.filterChains[0].filters[0].typedConfig as Msg;
  return { listener, filters: compileHcm(hcm, 'inbound', 15006).filters, warnings };
}

/** Runs one request through the filters: 200 if it reaches the router, else the local reply's status. */
function statusOf(chain: Inbound, request: RequestSpec = {}): number {
  const stream = new RecordingStream({ connection: { destinationPort: 15006 }, ...request });
  for (const filter of chain.filters) {
    const status = filter.createFilter().decodeHeaders(stream);
    if (stream.reply) return stream.reply.status;
    assert.equal(status, 'Continue', 'inline keys: no filter waits');
  }
  return 200;
}

const from = (ns: string, sa = 'sleep') => ({
  connection: { peerPrincipal: `spiffe://cluster.local/ns/${ns}/sa/${sa}` },
});

function ap(name: string, spec: string, namespace = 'foo', annotations = ''): string {
  return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n${annotations}spec:\n${spec}---\n`;
}

describe('inbound security filters', () => {
  test('no policy: only the router, and the opaque-TCP default chain stays', () => {
    const chain = inbound('');
    assert.deepEqual(
      chain.listener.filterChains[0].filters[0].typedConfig.httpFilters.map((f: Obj) => f.name),
      ['envoy.filters.http.router'],
    );
    assert.ok(chain.listener.defaultFilterChain);
    assert.equal(statusOf(chain), 200);
  });

  test('allow-nothing (`spec: {}`): every request is denied; opaque TCP is refused too', () => {
    const chain = inbound(ap('allow-nothing', '  {}\n'));
    assert.equal(statusOf(chain), 403);
    assert.equal(statusOf(chain, { ...from('foo'), method: 'POST' }), 403);
    assert.equal(chain.listener.defaultFilterChain, undefined, 'bytes RBAC cannot see never reach the app');
  });

  test('deny-all (`action: DENY`, `rules: [{}]`); DENY without rules denies nothing', () => {
    assert.equal(statusOf(inbound(ap('deny-all', '  action: DENY\n  rules: [{}]\n'))), 403);
    assert.equal(statusOf(inbound(ap('deny-none', '  action: DENY\n'))), 200);
  });

  test('ALLOW with `rules: [{}]` allows everything (and implies no deny)', () => {
    assert.equal(statusOf(inbound(ap('allow-all', '  rules: [{}]\n'))), 200);
  });

  test('allow GET from namespace foo; any ALLOW policy denies everything else', () => {
    const chain = inbound(
      ap(
        'get-from-foo',
        '  rules:\n  - from: [{source: {namespaces: [foo]}}]\n    to: [{operation: {methods: [GET]}}]\n',
      ),
    );
    assert.equal(statusOf(chain, from('foo')), 200);
    assert.equal(statusOf(chain, { ...from('foo'), method: 'POST' }), 403);
    assert.equal(statusOf(chain, from('bar')), 403);
    assert.equal(statusOf(chain), 403, 'plaintext peers have no namespace');
  });

  test('deny notPaths: only /healthz gets through; DENY is checked before ALLOW', () => {
    const chain = inbound(
      ap('deny-not-healthz', '  action: DENY\n  rules:\n  - to: [{operation: {notPaths: [/healthz]}}]\n') +
        ap('allow-all', '  rules: [{}]\n'),
    );
    assert.equal(statusOf(chain, { path: '/healthz' }), 200);
    assert.equal(statusOf(chain, { path: '/headers' }), 403);
    const names = chain.listener.filterChains[0].filters[0].typedConfig.httpFilters.map(
      (f: Obj) => f.typedConfig.rules?.action ?? f.name,
    );
    assert.deepEqual(names, ['DENY', 'ALLOW', 'envoy.filters.http.router']);
  });

  test('principals with prefix and suffix wildcards', () => {
    const chain = inbound(
      ap(
        'principals',
        '  rules:\n  - from: [{source: {principals: ["cluster.local/ns/bar/*", "*/sa/admin"]}}]\n',
      ),
    );
    assert.equal(statusOf(chain, from('bar', 'anything')), 200);
    assert.equal(statusOf(chain, from('other', 'admin')), 200);
    assert.equal(statusOf(chain, from('other', 'user')), 403);
  });

  test('hosts, methods, notMethods, paths with templates, ports (the workload port), source IPs, headers', () => {
    const chain = inbound(
      ap(
        'ops',
        `  rules:
  - from: [{source: {ipBlocks: [10.0.0.0/8]}}]
    to:
    - operation:
        hosts: ["httpbin.foo*"]
        notMethods: [DELETE]
        paths: ["/items/{*}/detail", "/static/*"]
        ports: ["${APP_PORT}"]
    when:
    - key: request.headers[x-token]
      values: ["secret"]
`,
      ),
    );
    const ok: RequestSpec = { path: '/items/42/detail', headers: { 'x-token': 'secret' } };
    assert.equal(statusOf(chain, ok), 200);
    assert.equal(statusOf(chain, { ...ok, path: '/static/a/b.css' }), 200);
    assert.equal(statusOf(chain, { ...ok, path: '/items/42/43/detail' }), 403, '{*} is one segment');
    assert.equal(statusOf(chain, { ...ok, method: 'DELETE' }), 403);
    assert.equal(statusOf(chain, { ...ok, authority: 'other.foo' }), 403);
    assert.equal(statusOf(chain, { ...ok, headers: { 'x-token': 'guess' } }), 403);
    assert.equal(statusOf(chain, { ...ok, connection: { sourceIp: '192.168.1.1' } }), 403);
    const otherPort = inbound(ap('port', '  rules:\n  - to: [{operation: {ports: ["8080"]}}]\n'));
    assert.equal(statusOf(otherPort), 403, 'a port this workload does not serve never matches');
  });

  test('AUDIT never blocks (action LOG, first); a dry-run DENY is shadow rules only', () => {
    const audit = inbound(ap('audit', '  action: AUDIT\n  rules: [{}]\n'));
    assert.equal(statusOf(audit), 200);
    assert.equal(
      audit.listener.filterChains[0].filters[0].typedConfig.httpFilters[0].typedConfig.rules.action,
      'LOG',
    );
    const dry = inbound(
      ap('dry', '  action: DENY\n  rules: [{}]\n', 'foo', '  annotations: {"istio.io/dry-run": "true"}\n'),
    );
    assert.equal(statusOf(dry), 200);
    const rbac = dry.listener.filterChains[0].filters[0].typedConfig.httpFilters[0].typedConfig;
    assert.equal(rbac.rules, undefined);
    assert.equal(rbac.shadowRulesStatPrefix, 'istio_dry_run_deny_');
    assert.ok(dry.listener.defaultFilterChain, 'a dry-run policy enforces nothing');
  });

  test('scoping: mesh-wide (root namespace), other namespaces and unmatched selectors do not apply', () => {
    const meshDeny = inbound(ap('mesh', '  action: DENY\n  rules: [{}]\n', 'istio-system'));
    assert.equal(statusOf(meshDeny), 403);
    const elsewhere = inbound(
      ap('other-ns', '  {}\n', 'bar') + ap('other-app', '  selector: {matchLabels: {app: web}}\n'),
    );
    assert.equal(statusOf(elsewhere), 200);
  });

  test('the listener cache key follows the policies that apply, so workloads do not share filters by mistake', () => {
    const snapshot = snapshotOf(ap('httpbin-only', '  selector: {matchLabels: {app: httpbin}}\n'));
    const [part] = GENERATOR_PARTS.get(TYPE_URL.listener)!;
    const httpbin = sidecar();
    const web = sidecar({ LABELS: { app: 'web' } });
    assert.notEqual(part.key(httpbin, snapshot), part.key(web, snapshot));
    assert.equal(inboundSecurityFilters(snapshot, web, APP_PORT).length, 0);
  });

  test('a TCP workload with an enforced policy keeps its inbound listener, with network RBAC before tcp_proxy', () => {
    const warnings: string[] = [];
    const proxy = sidecar({ WEFT_SERVICE_PROTOCOL: 'TCP' });
    const ctx = {
      snapshot: snapshotOf(ap('p', '  rules: [{}]\n')),
      proxy,
      warn: (_k: string, m: string) => warnings.push(m),
    };
    const [listener] = generateListeners(ctx, ['inbound']);
    const chain = (listener.resource as Obj).filter_chains[0];
    assert.deepEqual(
      chain.filters.map((f: Obj) => f.name),
      ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy'],
    );
    assert.equal(chain.filters[0].typed_config.rules.action, 'ALLOW');
    assert.deepEqual(warnings, []);
  });
});

describe('RequestAuthentication and request principals end to end', () => {
  const key = makeKey('ES256');
  const ISSUER = 'https://auth.example';
  const ra = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks(key)}'
    audiences: [httpbin]
---
`;
  const token = (extra: Record<string, unknown> = {}) =>
    sign(key, { iss: ISSUER, sub: 'alice', aud: 'httpbin', exp: epoch(300), groups: ['dev'], ...extra });
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  test('RequestAuthentication alone: no token passes, an invalid one is 401, a valid one passes', () => {
    const chain = inbound(ra);
    assert.equal(statusOf(chain), 200);
    assert.equal(statusOf(chain, bearer(token({ exp: epoch(-3600) }))), 401);
    assert.equal(statusOf(chain, bearer(token())), 200);
    assert.equal(
      statusOf(chain, bearer(token({ aud: 'other' }))),
      403,
      'Envoy: audiences not allowed is 403',
    );
  });

  test('requestPrincipals ["*"] makes a token required: no token → 403', () => {
    const chain = inbound(
      ra + ap('require-jwt', '  rules:\n  - from: [{source: {requestPrincipals: ["*"]}}]\n'),
    );
    assert.equal(statusOf(chain), 403);
    assert.equal(statusOf(chain, bearer(token())), 200);
    assert.equal(statusOf(chain, bearer(`${token()}x`)), 401);
  });

  test('requestPrincipals by issuer/subject, and when request.auth.claims[groups]', () => {
    const chain = inbound(
      ra +
        ap(
          'alice-admins',
          `  rules:
  - from: [{source: {requestPrincipals: ["${ISSUER}/alice"]}}]
    when:
    - key: request.auth.claims[groups]
      values: [admins]
`,
        ),
    );
    assert.equal(statusOf(chain, bearer(token({ groups: ['dev', 'admins'] }))), 200);
    assert.equal(statusOf(chain, bearer(token())), 403, 'not in admins');
    assert.equal(statusOf(chain, bearer(token({ sub: 'bob', groups: ['admins'] }))), 403, 'not alice');
  });
});

describe('SMI TrafficTarget end to end', () => {
  test('only the named source service account, only on the named routes', () => {
    const chain = inbound(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: foo}
spec:
  matches:
  - {name: metrics, pathRegex: /metrics, methods: [GET]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: scrape, namespace: foo}
spec:
  destination: {kind: ServiceAccount, name: httpbin}
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [metrics]}]
  sources: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
`);
    const prometheus = from('monitoring', 'prometheus');
    assert.equal(statusOf(chain, { ...prometheus, path: '/metrics' }), 200);
    assert.equal(
      statusOf(chain, { ...prometheus, path: '/metrics/cpu' }),
      200,
      'pathRegex is anchored at the start only',
    );
    assert.equal(statusOf(chain, { ...prometheus, path: '/admin' }), 403);
    assert.equal(statusOf(chain, { ...prometheus, path: '/metrics', method: 'POST' }), 403);
    assert.equal(statusOf(chain, { ...from('monitoring', 'grafana'), path: '/metrics' }), 403);
  });
});

describe('inboundMtlsMode', () => {
  test('PeerAuthentication precedence for the workload port', () => {
    const snapshot = snapshotOf(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  portLevelMtls:
    ${APP_PORT}: {mode: PERMISSIVE}
`);
    assert.equal(inboundMtlsMode(snapshot, sidecar(), APP_PORT), 'PERMISSIVE');
    assert.equal(inboundMtlsMode(snapshot, sidecar(), 9999), 'STRICT');
    assert.equal(inboundMtlsMode(snapshot, sidecar({ LABELS: { app: 'web' } }), APP_PORT), 'STRICT');
  });
});
