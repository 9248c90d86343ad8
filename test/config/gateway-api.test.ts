// Gateway API Gateway, HTTPRoute and GRPCRoute: reading them, and their normalisation into VirtualServices.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { HttpRoute, MeshSnapshot } from '../../src/model/types.ts';
import { issuesOf } from './util.ts';

const API = 'gateway.networking.k8s.io/v1';

/** A snapshot of the given documents, each one second older than the next (creation order = age). */
function snapshot(text: string): MeshSnapshot {
  const resources = parseResources(text, 'gw.yaml').map((d, i) => {
    d.resource.metadata.creationTimestamp = new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();
    return d.resource;
  });
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

function issues(text: string): string[] {
  return issuesOf(() => parseResources(text, 'gw.yaml')).map((i) => `${i.field}: ${i.message}`);
}

const GATEWAY = `apiVersion: ${API}
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: weft
  listeners:
  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - name: https
    port: 8443
    protocol: HTTPS
    hostname: shop.example.com
    tls: {options: {weft.dev/certificate-file: /c.pem, weft.dev/private-key-file: /k.pem}}
    allowedRoutes: {namespaces: {from: All}}
  - {name: same, port: 9090, protocol: HTTP}
`;

/** The uri match(es) of a rule as text, e.g. `exact:/api|prefix:/api/`. */
function uris(rule: HttpRoute): string {
  return rule.matches.map((m) => (m.uri ? Object.entries(m.uri)[0].join(':') : 'any')).join('|');
}

describe('Gateway API Gateway', () => {
  test('listeners become servers; the Gateway selects weft gateway --name web in its namespace', () => {
    const [gw] = snapshot(GATEWAY).gateways ?? [];
    assert.equal(gw.dialect, 'gateway-api');
    assert.deepEqual(gw.selector, { 'gateway.networking.k8s.io/gateway-name': 'web' });
    assert.equal(gw.selectorNamespace, 'infra');
    assert.deepEqual(gw.servers[0], {
      name: 'http',
      port: { number: 8080, name: 'http', protocol: 'HTTP' },
      hosts: [{ namespace: '*', host: '*.example.com' }],
      httpsRedirect: false,
      allowedRoutes: { namespaces: 'All', kinds: ['HTTPRoute', 'GRPCRoute'] },
    });
    assert.deepEqual(gw.servers[1].tls, {
      mode: 'SIMPLE',
      serverCertificate: '/c.pem',
      privateKey: '/k.pem',
      subjectAltNames: [],
    });
    assert.deepEqual(gw.servers[2].hosts, [{ namespace: '*', host: '*' }]);
    assert.equal(gw.servers[2].allowedRoutes?.namespaces, 'Same');
  });

  test('certificateRefs and UDP listeners are refused with what to do instead', () => {
    const text = (listener: string, className = 'weft') =>
      `apiVersion: ${API}\nkind: Gateway\nmetadata: {name: g}\nspec:\n  gatewayClassName: ${className}\n  listeners:\n  - ${listener}\n`;
    assert.match(
      issues(text('{name: h, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}'))[0],
      /^spec\.listeners\[0\]\.tls\.certificateRefs: field certificateRefs is not supported by weft: .*weft\.dev\/certificate-file/,
    );
    assert.match(
      issues(text('{name: t, port: 80, protocol: UDP}'))[0],
      /protocol UDP is not supported by weft/,
    );
    assert.match(
      issues(text('{name: h, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector}}}'))[0],
      /from: Selector is not supported/,
    );
  });
});

describe('HTTPRoute', () => {
  test('a Gateway parent: hostnames intersected with the listener, rules sorted by precedence across routes', () => {
    const snap = snapshot(`${GATEWAY}---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: catch-all, namespace: shop}
spec:
  parentRefs: [{name: web, namespace: infra, sectionName: http}]
  hostnames: [shop.example.com, other.org]
  rules:
  - backendRefs: [{name: frontend, port: 80}]
---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: api, namespace: shop}
spec:
  parentRefs: [{name: web, namespace: infra, sectionName: http}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}, {path: {type: Exact, value: /api/health}}]
    backendRefs: [{name: api, port: 8080, weight: 3}, {name: api-canary, port: 8080, weight: 1}]
    timeouts: {request: 2s, backendRequest: 500ms}
  - matches: [{path: {value: /api}, method: POST, headers: [{name: X-Version, value: "2"}]}]
    backendRefs: [{name: api-v2, port: 8080}]
`);
    const vs = snap.virtualServices.find((v) => v.gateways[0] === 'infra/web');
    assert.ok(vs);
    assert.deepEqual(vs.hosts, ['shop.example.com'], 'other.org matches no listener hostname');
    // Exact first, then the longest prefix with a method and a header, then /api, then the catch-all (the older route).
    assert.deepEqual(vs.http.map(uris), [
      'exact:/api/health',
      'exact:/api',
      'prefix:/api/',
      'exact:/api',
      'prefix:/api/',
      'prefix:/',
    ]);
    assert.deepEqual(
      vs.http.map((r) => r.matches[0].port),
      [8080, 8080, 8080, 8080, 8080, 8080],
      'sectionName narrows the rules to that listener',
    );
    const [health, v2] = [vs.http[0], vs.http[1]];
    assert.deepEqual(health.route, [
      { host: 'api.shop.svc.cluster.local', port: 8080, weight: 75 },
      { host: 'api-canary.shop.svc.cluster.local', port: 8080, weight: 25 },
    ]);
    assert.equal(health.timeoutMs, 2000);
    assert.equal(health.retries?.perTryTimeoutMs, 500);
    assert.deepEqual(v2.matches[0].method, { exact: 'POST' });
    assert.deepEqual(v2.matches[0].headers, [{ name: 'x-version', match: { exact: '2' }, invert: false }]);
  });

  test('filters: header modifiers, rewrite with path elements, redirect, mirror; no backends answer 500', () => {
    const snap = snapshot(`${GATEWAY}---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: web, sectionName: same}]
  rules:
  - matches: [{path: {value: /old/}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: new.internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: a}], remove: [X-B]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-C, value: c}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}, percent: 10}}
    backendRefs: [{name: app, port: 80}]
  - matches: [{path: {type: Exact, value: /moved}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, statusCode: 301}}]
  - matches: [{path: {type: Exact, value: /nothing}}]
`);
    const vs = snap.virtualServices.find((v) => v.gateways[0] === 'infra/web');
    assert.ok(vs);
    const [nothing, moved, oldExact, oldPrefix] = vs.http;
    assert.deepEqual(moved.redirect, { redirectCode: 301, authority: 'example.org', scheme: 'https' });
    assert.deepEqual(nothing.directResponse, { status: 500 });
    assert.equal(uris(oldExact), 'exact:/old');
    assert.deepEqual(oldExact.rewrite, { uri: '/new', authority: 'new.internal' });
    assert.equal(uris(oldPrefix), 'prefix:/old/');
    assert.deepEqual(oldPrefix.rewrite, { uri: '/new/', authority: 'new.internal' });
    assert.deepEqual(oldPrefix.headers, {
      request: { set: { 'x-a': 'a' }, add: {}, remove: ['x-b'] },
      response: { set: {}, add: { 'x-c': 'c' }, remove: [] },
    });
    assert.deepEqual(oldPrefix.mirrors, [
      { host: 'shadow.infra.svc.cluster.local', port: 80, percentage: 10 },
    ]);
  });

  test('RequestRedirect ReplacePrefixMatch: the path element prefix is replaced, the rest of the path kept', () => {
    const snap = snapshot(`${GATEWAY}---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: web, sectionName: same}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new/}, statusCode: 302}
`);
    const vs = snap.virtualServices.find((v) => v.gateways[0] === 'infra/web');
    const [exact, prefix] = vs?.http ?? [];
    assert.equal(uris(exact), 'exact:/old');
    assert.deepEqual(exact.redirect, { redirectCode: 302, uri: '/new/' });
    assert.equal(uris(prefix), 'prefix:/old/');
    assert.deepEqual(prefix.redirect, { redirectCode: 302, uriPrefix: '/new/' });
  });

  test('a Service parent (GAMMA) routes the mesh: producer routes for everyone, consumer routes for their namespace', () => {
    const snap = snapshot(`apiVersion: ${API}
kind: HTTPRoute
metadata: {name: reviews-jason}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: reviews-v2, port: 9080}]
  - backendRefs: [{name: reviews-v1, port: 9080}]
---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: consumer, namespace: team}
spec:
  parentRefs: [{kind: Service, name: reviews, namespace: default}]
  rules:
  - backendRefs: [{name: reviews-local, port: 9080}]
`);
    const [producer, consumer] = ['default', 'team'].map((ns) =>
      snap.virtualServices.find((v) => v.namespace === ns && v.gateways[0] === 'mesh'),
    );
    assert.deepEqual(producer?.hosts, ['reviews.default.svc.cluster.local']);
    assert.deepEqual(producer?.exportTo, ['*']);
    assert.deepEqual(
      producer?.http.map((r) => [r.matches[0].port, r.matches[0].headers.length, r.route?.[0].host]),
      [
        [9080, 1, 'reviews-v2.default.svc.cluster.local'],
        [9080, 0, 'reviews-v1.default.svc.cluster.local'],
      ],
    );
    assert.deepEqual(consumer?.exportTo, ['team']);
  });

  test('a route no parent accepts is left out, with the reason', () => {
    const snap = snapshot(`${GATEWAY}---
apiVersion: ${API}
kind: HTTPRoute
metadata: {name: lost, namespace: shop}
spec:
  parentRefs: [{name: web, namespace: infra, sectionName: same}, {name: missing}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
`);
    assert.deepEqual(snap.rejected, [
      {
        kind: 'HTTPRoute',
        namespace: 'shop',
        name: 'lost',
        issues: [
          'spec.parentRefs[0]: no listener of Gateway infra/web/same allows HTTPRoutes from namespace shop (allowedRoutes)',
          'spec.parentRefs[1]: Gateway shop/missing (gateway.networking.k8s.io) does not exist',
        ],
      },
    ]);
  });

  test('what weft refuses', () => {
    const route = (rule: string) =>
      `apiVersion: ${API}\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: web}]\n  rules:\n  - ${rule}\n`;
    assert.deepEqual(issues(route('backendRefs: [{name: app}]')), [
      'spec.rules[0].backendRefs[0].port: port is required when the backend is a Service',
    ]);
    assert.deepEqual(
      issues(
        route(
          'filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n    backendRefs: [{name: app, port: 80}]',
        ),
      ),
      ['spec.rules[0].backendRefs: a rule with a RequestRedirect filter cannot have backendRefs'],
    );
    assert.match(
      issues(
        route('filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: X, name: x}}]'),
      )[0],
      /filter ExtensionRef is not supported here by weft/,
    );
    assert.deepEqual(
      issues(
        route(
          'matches: [{path: {type: Exact, value: /a}}]\n    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]\n    backendRefs: [{name: app, port: 80}]',
        ),
      ),
      ['spec.rules[0].matches[0].path: ReplacePrefixMatch needs a PathPrefix match (as the spec says)'],
    );
  });
});

describe('GRPCRoute', () => {
  test('service and method matches become paths; exact before regular expressions', () => {
    const snap = snapshot(`${GATEWAY}---
apiVersion: ${API}
kind: GRPCRoute
metadata: {name: greeter, namespace: infra}
spec:
  parentRefs: [{name: web, sectionName: same}]
  rules:
  - matches: [{method: {service: helloworld.Greeter}}]
    backendRefs: [{name: greeter, port: 50051}]
  - matches: [{method: {service: helloworld.Greeter, method: SayHello}, headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: greeter-canary, port: 50051}]
  - matches: [{method: {type: RegularExpression, method: "Say.*"}}]
    backendRefs: [{name: greeter, port: 50051}]
`);
    const vs = snap.virtualServices.find((v) => v.gateways[0] === 'infra/web');
    assert.deepEqual(vs?.http.map(uris), [
      'exact:/helloworld.Greeter/SayHello',
      'prefix:/helloworld.Greeter/',
      'regex:/[^/]+/Say.*',
    ]);
  });
});
