// VirtualService semantics: matches, routes, retries, faults, mirrors, redirects, and Istio's rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { VirtualServiceModel } from '../../src/model/types.ts';
import { compileYaml, doc, issuesOf } from './util.ts';

function vs(spec: string): VirtualServiceModel {
  const compiled = compileYaml(doc('VirtualService', spec));
  assert.equal(compiled.kind, 'VirtualService');
  return compiled.virtualService;
}

function issues(spec: string): string[] {
  return issuesOf(() => parseResources(doc('VirtualService', spec), 'vs.yaml')).map(
    (i) => `${i.field}: ${i.message}`,
  );
}

describe('VirtualService', () => {
  test('defaults: bound to mesh, exportTo absent (MeshConfig default, else everywhere), route names from position', () => {
    const model = vs(`  hosts: [reviews, reviews.default.svc.cluster.local]
  http:
  - route: [{destination: {host: reviews, port: {number: 9080}}}]
`);
    assert.deepEqual(model.hosts, ['reviews.default.svc.cluster.local']);
    assert.deepEqual(model.gateways, ['mesh']);
    assert.equal(model.exportTo, undefined);
    assert.equal(model.http[0].name, 'default/x/http[0]');
    assert.deepEqual(model.http[0].route, [
      { host: 'reviews.default.svc.cluster.local', port: 9080, weight: 100 },
    ]);
    assert.deepEqual(model.http[0].mirrors, []);
    assert.deepEqual(model.tcp, []);
  });

  test('gateways and exportTo are normalised', () => {
    const model = vs(`  hosts: [reviews]
  gateways: [mesh, ingress, istio-system/public]
  exportTo: [".", "prod"]
  http: [{route: [{destination: {host: reviews}}]}]
`);
    assert.deepEqual(model.gateways, ['mesh', 'default/ingress', 'istio-system/public']);
    assert.deepEqual(model.exportTo, ['default', 'prod']);
  });

  test('every match condition', () => {
    const model = vs(`  hosts: [reviews]
  http:
  - name: matched
    match:
    - name: m1
      uri: {prefix: /api}
      ignoreUriCase: true
      method: {exact: GET}
      authority: {regex: "rev.*"}
      scheme: {exact: http}
      headers: {x-user: {exact: jason}, x-present: {}}
      withoutHeaders: {x-debug: {prefix: "1"}}
      queryParams: {v: {regex: "^[0-9]+$"}}
      port: 9080
      sourceLabels: {app: productpage}
      sourceNamespace: web
      gateways: [mesh]
    route: [{destination: {host: reviews}}]
`);
    assert.equal(model.http[0].name, 'matched');
    assert.deepEqual(model.http[0].matches, [
      {
        name: 'm1',
        uri: { prefix: '/api' },
        ignoreUriCase: true,
        method: { exact: 'GET' },
        authority: { regex: 'rev.*' },
        scheme: { exact: 'http' },
        headers: [
          { name: 'x-user', match: { exact: 'jason' }, invert: false },
          { name: 'x-present', invert: false },
          { name: 'x-debug', match: { prefix: '1' }, invert: true },
        ],
        queryParams: [{ name: 'v', match: { regex: '^[0-9]+$' } }],
        port: 9080,
        sourceLabels: { app: 'productpage' },
        sourceNamespace: 'web',
        gateways: ['mesh'],
      },
    ]);
  });

  test('route actions: headers, timeout, retries with status codes, fault, mirrors, rewrite', () => {
    const model = vs(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
      headers: {request: {set: {x-v: "1"}}, response: {remove: [x-internal]}}
    - destination: {host: reviews, subset: v2}
      weight: 20
    timeout: 2.5s
    retries: {attempts: 2, perTryTimeout: 500ms, retryOn: "gateway-error, 503,429", retryRemoteLocalities: true}
    fault:
      delay: {fixedDelay: 100ms, percentage: {value: 12.5}}
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}
    mirror: {host: shadow}
    mirrorPercentage: {value: 5}
    rewrite: {uri: /v2, authority: reviews-v2}
    headers: {request: {add: {x-a: b}}, response: {set: {x-c: d}}}
`);
    const route = model.http[0];
    assert.deepEqual(route.route, [
      {
        host: 'reviews.default.svc.cluster.local',
        subset: 'v1',
        weight: 80,
        headers: { set: { 'x-v': '1' }, add: {}, remove: [] },
        responseHeaders: { set: {}, add: {}, remove: ['x-internal'] },
      },
      { host: 'reviews.default.svc.cluster.local', subset: 'v2', weight: 20 },
    ]);
    assert.equal(route.timeoutMs, 2500);
    assert.deepEqual(route.retries, {
      attempts: 2,
      perTryTimeoutMs: 500,
      retryOn: ['gateway-error', 'retriable-status-codes'],
      retriableStatusCodes: [503, 429],
    });
    assert.deepEqual(route.fault, {
      delay: { fixedDelayMs: 100, percentage: 12.5 },
      abort: { grpcStatus: 'UNAVAILABLE', percentage: 1 },
    });
    assert.deepEqual(route.mirrors, [{ host: 'shadow.default.svc.cluster.local', percentage: 5 }]);
    assert.deepEqual(route.rewrite, { uri: '/v2', authority: 'reviews-v2' });
    assert.deepEqual(route.headers, {
      request: { set: {}, add: { 'x-a': 'b' }, remove: [] },
      response: { set: { 'x-c': 'd' }, add: {}, remove: [] },
    });
  });

  test('retries without retryOn get Istio default conditions; retryRemoteLocalities is ignored with a warning', () => {
    const [parsed] = parseResources(
      doc(
        'VirtualService',
        `  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 3, retryRemoteLocalities: true}
`,
      ),
      'vs.yaml',
    );
    assert.equal(parsed.warnings.length, 1);
    assert.match(
      parsed.warnings[0],
      /^vs\.yaml:9:28: document 0: spec\.http\[0\]\.retries\.retryRemoteLocalities: ignored:/,
    );
    const model = vs(`  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 3}
`);
    assert.deepEqual(model.http[0].retries, {
      attempts: 3,
      retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
      retriableStatusCodes: [503],
    });
  });

  test('redirect, direct response, mirrors[] and tcp routes', () => {
    const model = vs(`  hosts: [reviews]
  http:
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 308}
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: ok}}
  - route: [{destination: {host: reviews}}]
    mirrors:
    - destination: {host: shadow-a}
    - destination: {host: shadow-b, subset: v2}
      percentage: {value: 50}
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db, port: {number: 5432}}}]
`);
    assert.deepEqual(model.http[0].redirect, { uri: '/new', redirectCode: 308 });
    assert.deepEqual(model.http[1].directResponse, { status: 200, body: 'ok' });
    assert.deepEqual(model.http[2].mirrors, [
      { host: 'shadow-a.default.svc.cluster.local', percentage: 100 },
      { host: 'shadow-b.default.svc.cluster.local', subset: 'v2', percentage: 50 },
    ]);
    assert.deepEqual(model.tcp, [
      {
        matches: [{ port: 5432 }],
        route: [{ host: 'db.default.svc.cluster.local', port: 5432, weight: 100 }],
      },
    ]);
  });

  test('a fault without percentage affects no request, as in Istio, and says so', () => {
    const [parsed] = parseResources(
      doc(
        'VirtualService',
        `  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    fault: {abort: {httpStatus: 503}}
`,
      ),
      'vs.yaml',
    );
    assert.match(
      parsed.warnings[0],
      /spec\.http\[0\]\.fault\.abort: percentage is not set, so no request is aborted/,
    );
  });

  test("Istio's rules are enforced", () => {
    assert.deepEqual(issues('  hosts: ["*"]\n  http: [{route: [{destination: {host: a}}]}]\n'), [
      'spec.hosts: the wildcard host "*" is not allowed for VirtualServices bound to the mesh (as in Istio)',
    ]);
    assert.deepEqual(issues('  hosts: [a]\n'), ['spec.http: a VirtualService needs http, tcp or tls routes']);
    assert.deepEqual(issues('  hosts: [a]\n  http: [{timeout: 1s}]\n'), [
      'spec.http[0].route: an http route needs one of route, redirect or directResponse',
    ]);
    assert.deepEqual(
      issues('  hosts: [a]\n  http: [{route: [{destination: {host: a}}], redirect: {uri: /b}}]\n'),
      ['spec.http[0]: set only one of route, redirect and directResponse, not route and redirect'],
    );
    assert.deepEqual(
      issues('  hosts: [a]\n  http: [{route: [{destination: {host: a}}, {destination: {host: b}}]}]\n'),
      ['spec.http[0].route: every destination weight is 0 (0 + 0); give at least one a weight'],
    );
    assert.deepEqual(
      issues(
        '  hosts: [a]\n  http: [{match: [{headers: {X-User: {exact: j}}}], route: [{destination: {host: a}}]}]\n',
      ),
      ['spec.http[0].match[0].headers.X-User: header names must be lower case ("x-user")'],
    );
    assert.deepEqual(
      issues(
        '  hosts: [a]\n  http: [{match: [{uri: {prefix: /a, exact: /b}}], route: [{destination: {host: a}}]}]\n',
      ),
      ['spec.http[0].match[0].uri: set only one of exact, prefix or regex, not prefix and exact'],
    );
    assert.match(
      issues(
        '  hosts: [a]\n  http: [{match: [{uri: {regex: "(?=x)"}}], route: [{destination: {host: a}}]}]\n',
      )[0],
      /^spec\.http\[0\]\.match\[0\]\.uri\.regex: .*lookaround/,
    );
    assert.match(
      issues(
        '  hosts: [a]\n  http: [{match: [{queryParams: {q: {prefix: x}}}], route: [{destination: {host: a}}]}]\n',
      )[0],
      /^spec\.http\[0\]\.match\[0\]\.queryParams\.q\.prefix: prefix matching is not available here/,
    );
    assert.deepEqual(issues('  hosts: [a]\n  http: [{route: [{destination: {host: "*.a.com"}}]}]\n'), [
      'spec.http[0].route[0].destination.host: host "*.a.com" is a wildcard; name one service here',
    ]);
    assert.deepEqual(
      issues(
        '  hosts: [a.example.com]\n  tls: [{match: [{sniHosts: [b.example.com]}], route: [{destination: {host: a}}]}]\n',
      ),
      [
        "spec.tls[0].match[0].sniHosts[0]: sniHost b.example.com is not one of the VirtualService's hosts (as in Istio, it must be covered by hosts)",
      ],
    );
    assert.deepEqual(issues('  hosts: [a]\n  http: [{delegate: {name: b}}]\n'), [
      'spec.http[0].delegate: field delegate is not supported by weft (yet): VirtualService delegation is not implemented',
    ]);
  });
});
