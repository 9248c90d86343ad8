// The YAML users already have: optional parentRefs, older API versions, relative weights, deprecated fields, Linkerd annotations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { GatewayApiRouteModel, MeshSnapshot } from '../../src/model/types.ts';
import { compileYaml, doc, issuesOf } from './util.ts';

const API = 'gateway.networking.k8s.io/v1';

function warnings(text: string): string[] {
  return parseResources(text, 'u.yaml').flatMap((d) => d.warnings);
}

function issues(text: string): string[] {
  return issuesOf(() => parseResources(text, 'u.yaml')).map((i) => `${i.field}: ${i.message} [${i.reason}]`);
}

function snapshot(text: string): MeshSnapshot {
  const resources = parseResources(text, 'u.yaml').map((d) => d.resource);
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

function route(text: string): GatewayApiRouteModel {
  const compiled = compileYaml(text);
  assert.ok(compiled.kind === 'HTTPRoute' || compiled.kind === 'GRPCRoute');
  return compiled.route;
}

const RULES = '  rules: [{backendRefs: [{name: app, port: 80}]}]\n';

describe('Gateway API routes as upstream writes them', () => {
  test('a route without parentRefs is accepted with a warning and attaches to nothing', () => {
    const text = `apiVersion: ${API}\nkind: HTTPRoute\nmetadata: {name: lone}\nspec:\n${RULES}`;
    assert.deepEqual(warnings(text), [
      'u.yaml:4:1: document 0: spec.parentRefs: no parentRefs: the route attaches to no Gateway and no Service, so it routes nothing; add a parentRef (a Gateway, or a Service for mesh routing)',
    ]);
    const snap = snapshot(text);
    assert.deepEqual(snap.rejected, [
      {
        kind: 'HTTPRoute',
        namespace: 'default',
        name: 'lone',
        issues: ['spec.parentRefs: no parentRefs, so the route attaches to no Gateway and no Service'],
      },
    ]);
    assert.equal(snap.virtualServices.length, 0);
  });

  test("GRPCRoute v1alpha2 (Linkerd's docs) and Linkerd's policy.linkerd.io HTTPRoute are read", () => {
    const grpc = route(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: GRPCRoute
metadata: {name: g}
spec:
  parentRefs: [{group: core, kind: Service, name: echo, port: 50051}]
  rules: [{matches: [{method: {service: echo.Echo}}], backendRefs: [{name: echo-v2, port: 50051}]}]
`);
    assert.deepEqual(grpc.rules[0].route.matches[0].uri, { prefix: '/echo.Echo/' });
    const http = route(`apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: h}
spec:
  parentRefs: [{group: core, kind: Service, name: web, port: 80}]
${RULES}`);
    assert.equal(http.rules[0].route.route?.[0].host, 'app.default.svc.cluster.local');
  });

  test('rule retry (GEP-1731): the codes and connection errors, attempts and back-off', () => {
    const r = route(`apiVersion: ${API}
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{kind: Service, group: "", name: web, port: 80}]
  rules:
  - backendRefs: [{name: app, port: 80}]
    retry: {codes: [500, 503], attempts: 3, backoff: 50ms}
    timeouts: {request: 2s, backendRequest: 500ms}
`);
    assert.deepEqual(r.rules[0].route.retries, {
      attempts: 3,
      perTryTimeoutMs: 500,
      retryOn: ['connect-failure', 'reset', 'refused-stream', 'retriable-status-codes'],
      retriableStatusCodes: [500, 503],
      backoffMs: 50,
    });
    assert.equal(r.rules[0].route.timeoutMs, 2000);
  });

  test("a Gateway of another controller's class is skipped with a note; routes to it say why", () => {
    const text = `apiVersion: ${API}
kind: Gateway
metadata: {name: nginx-gw}
spec:
  gatewayClassName: nginx
  listeners: [{name: h, port: 80, protocol: TCP, tls: {certificateRefs: [{name: c}]}}]
---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: nginx-gw}]
${RULES}`;
    assert.deepEqual(warnings(text), [
      'u.yaml:5:3: document 0: spec.gatewayClassName: class "nginx" belongs to another controller (weft serves weft and istio), so weft does not serve it',
    ]);
    const snap = snapshot(text);
    assert.deepEqual(snap.gateways?.find((g) => g.name === 'nginx-gw')?.servers, []);
    assert.deepEqual(snap.rejected?.[0].issues, [
      'spec.parentRefs[0]: Gateway default/nginx-gw: class "nginx" belongs to another controller (weft serves weft and istio), so weft does not serve it',
    ]);
  });

  test('Linkerd retry and timeout annotations become the route retry and timeout', () => {
    const r = route(`apiVersion: ${API}
kind: HTTPRoute
metadata:
  name: r
  annotations:
    retry.linkerd.io/http: 5xx,429,500-502
    retry.linkerd.io/limit: "2"
    retry.linkerd.io/timeout: 300ms
    timeout.linkerd.io/request: 3s
spec:
  parentRefs: [{kind: Service, group: core, name: web, port: 80}]
${RULES}`);
    assert.deepEqual(r.rules[0].route.retries, {
      attempts: 2,
      perTryTimeoutMs: 300,
      retryOn: ['5xx', 'retriable-status-codes'],
      retriableStatusCodes: [429, 500, 501, 502],
    });
    assert.equal(r.rules[0].route.timeoutMs, 3000);
    const text = `apiVersion: ${API}
kind: HTTPRoute
metadata:
  name: r
  annotations: {timeout.linkerd.io/idle: 10s, retry.linkerd.io/limit: "3"}
spec:
  parentRefs: [{kind: Service, group: core, name: web, port: 80}]
${RULES}`;
    assert.deepEqual(
      warnings(text).map((w) => w.replace(/^u\.yaml:\d+:\d+: /, '')),
      [
        'document 0: metadata.annotations["timeout.linkerd.io/idle"]: ignored: not supported by weft; use timeout.linkerd.io/request (or the rule\'s timeouts.request)',
        'document 0: metadata.annotations["retry.linkerd.io/limit"]: ignored: retries are on only when retry.linkerd.io/http or retry.linkerd.io/grpc names the conditions',
      ],
    );
    assert.deepEqual(issues(text.replace('retry.linkerd.io/limit: "3"', 'retry.linkerd.io/http: 5xy')), [
      'metadata.annotations["retry.linkerd.io/http"]: "5xy" is not a retry condition; write 5xx, gateway-error, a status code or a range like 500-504 [invalid]',
    ]);
  });
});

describe('Istio YAML as upstream writes it', () => {
  test('relative weights: 1/1 is 50/50, 1/1/1 is 34/33/33', () => {
    const compiled = compileYaml(
      doc(
        'VirtualService',
        `  hosts: [r]
  http:
  - route: [{destination: {host: r, subset: a}, weight: 1}, {destination: {host: r, subset: b}, weight: 1}]
  - route: [{destination: {host: r, subset: a}, weight: 1}, {destination: {host: r, subset: b}, weight: 1}, {destination: {host: r, subset: c}, weight: 1}]
`,
      ),
    );
    assert.ok(compiled.kind === 'VirtualService');
    assert.deepEqual(
      compiled.virtualService.http.map((h) => h.route?.map((d) => d.weight)),
      [
        [50, 50],
        [34, 33, 33],
      ],
    );
  });

  test('deprecated fields are read with a warning naming their replacement', () => {
    const text = doc(
      'VirtualService',
      `  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    mirror: {host: shadow}
    mirrorPercent: 20
`,
    );
    assert.deepEqual(warnings(text), [
      'u.yaml:10:5: document 0: spec.http[0].mirrorPercent: deprecated in Istio; use mirrorPercentage.value',
    ]);
    const compiled = compileYaml(text);
    assert.ok(compiled.kind === 'VirtualService');
    assert.equal(compiled.virtualService.http[0].mirrors[0].percentage, 20);
    const gateway = doc(
      'Gateway',
      `  servers: [{port: {number: 80, name: http, protocol: HTTP, targetPort: 8080}, hosts: ["*"]}]\n`,
    );
    assert.match(warnings(gateway)[0], /spec\.servers\[0\]\.port\.targetPort: ignored: deprecated in Istio/);
  });

  test('real upstream fields weft lacks are "not supported by weft"; misspellings are unknown fields', () => {
    const base = (retries: string) =>
      doc(
        'VirtualService',
        `  hosts: [r]\n  http:\n  - route: [{destination: {host: r}}]\n    retries: ${retries}\n`,
      );
    assert.deepEqual(issues(base('{attempts: 2, retryIgnorePreviousHosts: true}')), [
      'spec.http[0].retries.retryIgnorePreviousHosts: field retryIgnorePreviousHosts is not supported by weft (yet): retries may go to the same endpoint again [unsupported]',
    ]);
    assert.deepEqual(issues(base('{attempts: 2, perTryTimout: 1s}')), [
      'spec.http[0].retries.perTryTimout: unknown field perTryTimout (did you mean perTryTimeout?) [unknown-field]',
    ]);
  });
});

describe('SMI TrafficSplit', () => {
  test("the root service's traffic is split across the backends by relative weight", () => {
    const text = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: website, namespace: shop}
spec:
  service: website
  backends:
  - {service: website-v1, weight: 1}
  - {service: website-v2, weight: 3}
  - {service: website-v3, weight: 0}
`;
    const compiled = compileYaml(text);
    assert.ok(compiled.kind === 'VirtualService');
    assert.deepEqual(compiled.virtualService.hosts, ['website.shop.svc.cluster.local']);
    assert.deepEqual(compiled.virtualService.gateways, ['mesh']);
    assert.deepEqual(compiled.virtualService.http[0].route, [
      { host: 'website-v1.shop.svc.cluster.local', weight: 25 },
      { host: 'website-v2.shop.svc.cluster.local', weight: 75 },
    ]);
    assert.deepEqual(
      issues(text.replace('  backends:', '  matches: [{kind: TCPRoute, name: g}]\n  backends:')),
      ['spec.matches[0].kind: must be one of HTTPRouteGroup, got "TCPRoute" [invalid]'],
    );
    assert.deepEqual(issues(text.replace(/weight: \d/g, 'weight: 0')), [
      'spec.backends: every backend weight is 0; give at least one a weight [invalid]',
    ]);
  });
});

describe('SMI TrafficSplit v1alpha1 and the kinds of other dialects', () => {
  test('v1alpha1 weights are Kubernetes quantities (Linkerd multicluster docs)', () => {
    const text = `apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: podinfo, namespace: test}
spec:
  service: podinfo
  backends:
  - {service: podinfo, weight: 500m}
  - {service: podinfo-east, weight: "1.5"}
`;
    const compiled = compileYaml(text);
    assert.ok(compiled.kind === 'VirtualService');
    assert.deepEqual(
      compiled.virtualService.http[0].route?.map((d) => d.weight),
      [25, 75],
    );
    assert.deepEqual(issues(text.replace('500m', '5Gi')), [
      'spec.backends[0].weight: must be a quantity such as 50 or "500m", got "5Gi" [invalid]',
    ]);
    // v1alpha4 weights stay integers.
    assert.equal(issues(text.replace('v1alpha1', 'v1alpha4')).length, 2);
  });

  test("Linkerd's AuthorizationPolicy is read as Linkerd's, SMI's IdentityBinding is not supported, not misspelt", () => {
    assert.deepEqual(
      issues(
        'apiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {targetRef: {kind: Server, name: web}}\n',
      ),
      ['spec.requiredAuthenticationRefs: field "requiredAuthenticationRefs" is required [missing]'],
    );
    assert.deepEqual(
      issues(
        'apiVersion: access.smi-spec.io/v1alpha4\nkind: IdentityBinding\nmetadata: {name: b}\nspec: {}\n',
      ),
      [
        'kind: kind IdentityBinding is not supported by weft (yet): name the ServiceAccounts in TrafficTarget sources [unsupported]',
      ],
    );
  });
});

describe('SMI TrafficSplit with HTTPRouteGroup matches', () => {
  const split = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: ab, namespace: shop}
spec:
  service: website
  matches: [{kind: HTTPRouteGroup, name: ab-test}, {kind: HTTPRouteGroup, name: missing}]
  backends:
  - {service: website-v1, weight: 0}
  - {service: website-v2, weight: 100}
`;
  const group = `---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: ab-test, namespace: shop}
spec:
  matches:
  - name: firefox-users
    headers: {user-agent: ".*Firefox.*"}
  - name: api-writes
    pathRegex: /api/.*
    methods: [POST, PUT]
`;
  const website = (text: string) =>
    snapshot(text).virtualServices.find((v) => v.hosts[0] === 'website.shop.svc.cluster.local');

  test('matching requests are split; every other request goes to the root service', () => {
    const vs = website(split + group);
    assert.deepEqual(
      vs?.http.map((r) => r.route),
      [
        [{ host: 'website-v2.shop.svc.cluster.local', weight: 100 }],
        [{ host: 'website.shop.svc.cluster.local', weight: 100 }],
      ],
    );
    assert.deepEqual(vs?.http[0].matches, [
      {
        name: 'firefox-users',
        ignoreUriCase: false,
        headers: [{ name: 'user-agent', match: { regex: '.*Firefox.*' }, invert: false }],
        queryParams: [],
      },
      {
        name: 'api-writes',
        uri: { regex: '/api/.*' },
        method: { regex: 'POST|PUT' },
        ignoreUriCase: false,
        headers: [],
        queryParams: [],
      },
    ]);
    assert.deepEqual(vs?.http[1].matches, []);
  });

  test('without the HTTPRouteGroup no request matches: all go to the root service', () => {
    const vs = website(split);
    assert.deepEqual(
      vs?.http.map((r) => [r.matches.length, r.route?.[0].host]),
      [[0, 'website.shop.svc.cluster.local']],
    );
  });
});

describe('Gateway API ReferenceGrant', () => {
  const route = `apiVersion: ${API}
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: web, port: 80}]
  rules:
  - backendRefs: [{name: app, port: 80, weight: 3}, {name: store, namespace: infra, port: 80, weight: 1}]
`;
  const grant = (fromNamespace: string, toName = 'store') => `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${fromNamespace}}]
  to: [{group: "", kind: Service, name: ${toName}}]
`;
  const rule = (text: string) => {
    const vs = snapshot(text).virtualServices.find((v) => v.hosts[0] === 'web.shop.svc.cluster.local');
    return vs?.http[0];
  };

  test('a granted backend in another namespace is used', () => {
    const r = rule(route + grant('shop'));
    assert.deepEqual(
      r?.route?.map((d) => [d.host, d.weight]),
      [
        ['app.shop.svc.cluster.local', 75],
        ['store.infra.svc.cluster.local', 25],
      ],
    );
    assert.equal(r?.fault, undefined);
  });

  test('without a grant (or one for another namespace or Service) its share of requests gets 500', () => {
    for (const text of [route, route + grant('other'), route + grant('shop', 'db')]) {
      const r = rule(text);
      assert.deepEqual(
        r?.route?.map((d) => [d.host, d.weight]),
        [['app.shop.svc.cluster.local', 100]],
      );
      assert.deepEqual(r?.fault, { abort: { httpStatus: 500, percentage: 25 } });
    }
  });
});

describe('kinds', () => {
  test('real upstream kinds weft lacks are "not supported by weft"; made-up kinds are unknown', () => {
    const text = (kind: string) =>
      `apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: ${kind}\nmetadata: {name: x}\nspec: {}\n`;
    assert.deepEqual(issues(text('UDPRoute')), [
      'kind: kind UDPRoute is not supported by weft (yet): weft proxies TCP, HTTP and gRPC only [unsupported]',
    ]);
    assert.match(
      issues(text('UDPRoutes'))[0],
      /^kind: unknown kind "UDPRoutes"; weft supports VirtualService, .* \[invalid\]$/,
    );
  });

  test('a GatewayClass is stored with a warning that weft serves its own classes by name', () => {
    const text = `apiVersion: ${API}\nkind: GatewayClass\nmetadata: {name: example}\nspec:\n  controllerName: example.net/gateway-controller\n  parametersRef: {group: example.net, kind: Config, name: c}\n`;
    assert.deepEqual(
      warnings(text).map((w) => w.replace(/^u\.yaml:\d+:\d+: document 0: /, '')),
      [
        'kind: stored but not used: weft serves Gateways of class weft or istio (no GatewayClass needed); Gateways of class example are left to example.net/gateway-controller',
      ],
    );
  });
});

describe('Gateway API TCPRoute and TLSRoute', () => {
  test('a TLSRoute on a Passthrough listener becomes tls[] rules matched by SNI on the listener port', () => {
    const snap = snapshot(`apiVersion: ${API}
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: weft
  listeners:
  - {name: tls, port: 8443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: secure}
spec:
  parentRefs: [{name: edge}]
  hostnames: [secure.example.com, other.example.org]
  rules:
  - backendRefs: [{name: secure, port: 443, weight: 1}, {name: secure-v2, port: 443, weight: 1}]
`);
    const vs = snap.virtualServices.find((v) => v.name.endsWith('|TLSRoute|default/secure'));
    assert.deepEqual(vs?.gateways, ['default/edge']);
    assert.deepEqual(vs?.tls, [
      {
        matches: [{ sniHosts: ['secure.example.com'], port: 8443 }],
        route: [
          { host: 'secure.default.svc.cluster.local', port: 443, weight: 50 },
          { host: 'secure-v2.default.svc.cluster.local', port: 443, weight: 50 },
        ],
      },
    ]);
  });

  test('a TCPRoute with a Service parent routes mesh TCP; one on an HTTP listener is not attached', () => {
    const snap = snapshot(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db}
spec:
  parentRefs: [{kind: Service, group: "", name: db, port: 5432}]
  rules: [{backendRefs: [{name: db-v2, port: 5432}]}]
---
apiVersion: ${API}
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: weft
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: wrong}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]
`);
    const vs = snap.virtualServices.find((v) => v.name.endsWith('|TCPRoute|default/db'));
    assert.deepEqual(vs?.hosts, ['db.default.svc.cluster.local']);
    assert.deepEqual(vs?.gateways, ['mesh']);
    assert.deepEqual(vs?.tcp, [
      {
        matches: [{ port: 5432 }],
        route: [{ host: 'db-v2.default.svc.cluster.local', port: 5432, weight: 100 }],
      },
    ]);
    assert.deepEqual(snap.rejected?.find((r) => r.name === 'wrong')?.issues, [
      'spec.parentRefs[0]: no listener of Gateway default/web allows TCPRoutes from namespace default (allowedRoutes)',
    ]);
  });
});
