// Security kinds: PeerAuthentication, AuthorizationPolicy, RequestAuthentication, SMI TrafficTarget/HTTPRouteGroup — reading, positions, Istio's rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompiledSpec } from '../../src/config/kinds.ts';
import { resolveKind } from '../../src/config/kinds.ts';
import { parseResources } from '../../src/config/parse.ts';
import { compileYaml, issuesOf } from './util.ts';

/** A security.istio.io document of `kind` in namespace `foo` with `spec` given as YAML lines. */
function sec(kind: string, specYaml: string, extraMeta = ''): string {
  return `apiVersion: security.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: p\n  namespace: foo\n${extraMeta}spec:\n${specYaml}`;
}

function issues(text: string): string[] {
  return issuesOf(() => parseResources(text, 'sec.yaml')).map(
    (i) => `${i.line}:${i.column} ${i.field}: ${i.message} [${i.reason}]`,
  );
}

function compiled<K extends CompiledSpec['kind']>(text: string, kind: K): Extract<CompiledSpec, { kind: K }> {
  const out = compileYaml(text);
  assert.equal(out.kind, kind);
  return out as Extract<CompiledSpec, { kind: K }>;
}

describe('kinds', () => {
  test('the security and SMI kinds resolve by every name', () => {
    for (const [name, kind] of [
      ['pa', 'PeerAuthentication'],
      ['peerauthentications.security.istio.io', 'PeerAuthentication'],
      ['ap', 'AuthorizationPolicy'],
      ['AuthorizationPolicy', 'AuthorizationPolicy'],
      ['ra', 'RequestAuthentication'],
      ['tt', 'TrafficTarget'],
      ['traffictargets.access.smi-spec.io', 'TrafficTarget'],
      ['htr', 'HTTPRouteGroup'],
      ['httproutegroups.specs.smi-spec.io', 'HTTPRouteGroup'],
      ['authorizationpolicies.policy.linkerd.io', 'AuthorizationPolicy'],
      ['srv', 'Server'],
      ['meshtlsauthentications.policy.linkerd.io', 'MeshTLSAuthentication'],
      ['netauthn', 'NetworkAuthentication'],
      ['saz', 'ServerAuthorization'],
    ])
      assert.equal(resolveKind(name)?.kind, kind, name);
    assert.deepEqual(resolveKind('ap')?.apiVersions, [
      'security.istio.io/v1',
      'security.istio.io/v1beta1',
      'policy.linkerd.io/v1alpha1',
    ]);
  });

  test('a security kind with a networking apiVersion names the right ones', () => {
    const text = sec('PeerAuthentication', '  mtls: {mode: STRICT}\n').replace(
      'security.istio.io/v1',
      'networking.istio.io/v1',
    );
    assert.deepEqual(issues(text), [
      '1:1 apiVersion: apiVersion "networking.istio.io/v1" is not supported for PeerAuthentication; use one of security.istio.io/v1, security.istio.io/v1beta1 [invalid]',
    ]);
  });
});

describe('PeerAuthentication', () => {
  test('selector, mode and port-level modes', () => {
    const { peerAuthentication } = compiled(
      sec(
        'PeerAuthentication',
        `  selector:
    matchLabels: {app: reviews}
  mtls: {mode: STRICT}
  portLevelMtls:
    9090: {mode: DISABLE}
    8080: {}
`,
      ),
      'PeerAuthentication',
    );
    assert.deepEqual(peerAuthentication, {
      name: 'p',
      namespace: 'foo',
      selector: { app: 'reviews' },
      mode: 'STRICT',
      portLevelMtls: [
        { port: 8080, mode: 'UNSET' },
        { port: 9090, mode: 'DISABLE' },
      ],
    });
  });

  test('an empty spec is namespace-wide UNSET; an empty selector is no selector', () => {
    const { peerAuthentication } = compiled(
      sec('PeerAuthentication', '  selector: {}\n'),
      'PeerAuthentication',
    );
    assert.deepEqual(peerAuthentication, { name: 'p', namespace: 'foo', mode: 'UNSET', portLevelMtls: [] });
  });

  test('issues: mode, port keys, portLevelMtls without selector, targetRef', () => {
    assert.deepEqual(
      issues(
        sec(
          'PeerAuthentication',
          `  mtls: {mode: STRICTLY}
  portLevelMtls:
    http: {mode: STRICT}
    8080: {mode: STRICT}
  targetRef: {kind: Service, name: reviews}
`,
        ),
      ),
      [
        '7:10 spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got "STRICTLY" [invalid]',
        '8:3 spec.portLevelMtls: portLevelMtls needs a selector (as in Istio): port-level modes apply to selected workloads only [invalid]',
        '9:5 spec.portLevelMtls.http: "http" is not a port number (1-65535) [invalid]',
        '11:3 spec.targetRef: field targetRef is not supported by weft (yet): attaching policies to Gateways or Services is not implemented; use selector [unsupported]',
      ],
    );
  });
});

describe('AuthorizationPolicy', () => {
  test('every source, operation and condition field is read', () => {
    const { authorizationPolicy } = compiled(
      sec(
        'AuthorizationPolicy',
        `  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/a/sa/b]
        notPrincipals: ["*-test"]
        requestPrincipals: ["issuer/*"]
        notRequestPrincipals: [x/y]
        namespaces: [a]
        notNamespaces: [b]
        ipBlocks: [10.0.0.0/8, 1.2.3.4]
        notIpBlocks: ["::1"]
        remoteIpBlocks: [192.168.0.0/16]
        notRemoteIpBlocks: [192.168.1.1]
    to:
    - operation:
        hosts: [example.com]
        notHosts: ["*.internal"]
        ports: ["8080"]
        notPorts: ["9090"]
        methods: [GET]
        notMethods: [DELETE]
        paths: ["/api/*", "/items/{*}/detail"]
        notPaths: ["/admin"]
    when:
    - key: request.auth.claims[groups]
      values: [admins]
    - key: source.ip
      notValues: [10.1.0.0/16]
    - key: request.headers[x-user]
      values: ["a*"]
`,
      ),
      'AuthorizationPolicy',
    );
    assert.deepEqual(authorizationPolicy, {
      name: 'p',
      namespace: 'foo',
      origin: { kind: 'AuthorizationPolicy', namespace: 'foo', name: 'p' },
      selector: { app: 'httpbin' },
      action: 'DENY',
      dryRun: false,
      rules: [
        {
          from: [
            {
              principals: ['cluster.local/ns/a/sa/b'],
              notPrincipals: ['*-test'],
              requestPrincipals: ['issuer/*'],
              notRequestPrincipals: ['x/y'],
              namespaces: ['a'],
              notNamespaces: ['b'],
              ipBlocks: ['10.0.0.0/8', '1.2.3.4'],
              notIpBlocks: ['::1'],
              remoteIpBlocks: ['192.168.0.0/16'],
              notRemoteIpBlocks: ['192.168.1.1'],
            },
          ],
          to: [
            {
              hosts: ['example.com'],
              notHosts: ['*.internal'],
              ports: ['8080'],
              notPorts: ['9090'],
              methods: ['GET'],
              notMethods: ['DELETE'],
              paths: ['/api/*', '/items/{*}/detail'],
              notPaths: ['/admin'],
            },
          ],
          when: [
            { key: 'request.auth.claims[groups]', values: ['admins'] },
            { key: 'source.ip', notValues: ['10.1.0.0/16'] },
            { key: 'request.headers[x-user]', values: ['a*'] },
          ],
        },
      ],
    });
  });

  test('{} is ALLOW with no rules (allow nothing); rules: [{}] is a rule that matches everything', () => {
    const nothing = compiled(sec('AuthorizationPolicy', '  {}\n'), 'AuthorizationPolicy').authorizationPolicy;
    assert.equal(nothing.action, 'ALLOW');
    assert.deepEqual(nothing.rules, []);
    const all = compiled(
      sec('AuthorizationPolicy', '  rules: [{}]\n'),
      'AuthorizationPolicy',
    ).authorizationPolicy;
    assert.deepEqual(all.rules, [{ from: [], to: [], when: [] }]);
  });

  test('the istio.io/dry-run annotation makes the policy dry-run; a non-boolean is an issue', () => {
    const dry = compiled(
      sec('AuthorizationPolicy', '  action: DENY\n', '  annotations: {"istio.io/dry-run": "true"}\n'),
      'AuthorizationPolicy',
    ).authorizationPolicy;
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      issues(sec('AuthorizationPolicy', '  action: DENY\n', '  annotations: {"istio.io/dry-run": "yes"}\n')),
      ['6:17 metadata.annotations["istio.io/dry-run"]: must be "true" or "false", got "yes" [invalid]'],
    );
  });

  test('issues carry line, column and field; unsupported fields say so', () => {
    assert.deepEqual(
      issues(
        sec(
          'AuthorizationPolicy',
          `  action: CUSTOM
  provider: {name: ext}
  targetRefs: [{kind: Gateway, name: gw}]
  rules:
  - from:
    - source: {}
    - source: {serviceAccounts: [a]}
    - {}
    to:
    - operation: {ports: [8080], paths: ["/x/{id}"], methods: [""]}
    when:
    - key: source.labels
      values: [x]
    - key: request.headers[x-a]
    - key: destination.port
      values: ["http"]
    - key: experimental.envoy.filters.a.b[c]
      values: [d]
    - key: source.ip
      values: [10.0.0.300]
  - from: []
`,
        ),
      ),
      [
        '7:3 spec.action: action CUSTOM is not supported by weft (yet): external authorization providers are not implemented [unsupported]',
        '8:3 spec.provider: field provider is not supported by weft (yet): it belongs to action CUSTOM [unsupported]',
        '9:3 spec.targetRefs: field targetRefs is not supported by weft (yet): attaching policies to Gateways or Services is not implemented; use selector [unsupported]',
        '12:7 spec.rules[0].from[0].source: a source must set at least one of principals, notPrincipals, requestPrincipals, notRequestPrincipals, namespaces, notNamespaces, ipBlocks, notIpBlocks, remoteIpBlocks, notRemoteIpBlocks [invalid]',
        '13:16 spec.rules[0].from[1].source.serviceAccounts: field serviceAccounts is not supported by weft (yet): use principals (<trust-domain>/ns/<namespace>/sa/<name>) [unsupported]',
        '14:7 spec.rules[0].from[2].source: field "source" is required [missing]',
        '16:27 spec.rules[0].to[0].operation.ports[0]: must be a string, got 8080 (quote it) [invalid]',
        '16:42 spec.rules[0].to[0].operation.paths[0]: path template "/x/{id}": "{id}" must be a whole segment {*} or {**} [invalid]',
        '16:64 spec.rules[0].to[0].operation.methods[0]: empty values are not allowed [invalid]',
        '18:7 spec.rules[0].when[0].key: unknown attribute "source.labels"; Istio\'s are source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, destination.ip, destination.port, connection.sni, request.headers[<name>], request.auth.claims[<name>] [invalid]',
        '20:7 spec.rules[0].when[1]: condition on request.headers[x-a] must set values or notValues [missing]',
        '22:16 spec.rules[0].when[2].values[0]: "http" is not a port number (1-65535) [invalid]',
        '23:7 spec.rules[0].when[3].key: "experimental.envoy.filters.a.b[c]": experimental Envoy metadata attributes are not supported by weft [unsupported]',
        '26:16 spec.rules[0].when[4].values[0]: "10.0.0.300" is not an IP address or CIDR block [invalid]',
        '27:5 spec.rules[1].from: must not be empty [invalid]',
      ],
    );
  });

  test('a "*" inside a value is literal, with a warning', () => {
    const [doc] = parseResources(
      sec(
        'AuthorizationPolicy',
        '  rules:\n  - from: [{source: {principals: ["cluster.local/ns/*/sa/x"]}}]\n',
      ),
      'sec.yaml',
    );
    assert.deepEqual(doc.warnings, [
      'sec.yaml:8:35: document 0: spec.rules[0].from[0].source.principals[0]: "cluster.local/ns/*/sa/x": only a leading or trailing "*" is a wildcard; this one is matched literally',
    ]);
  });
});

describe('RequestAuthentication', () => {
  const JWKS = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] });

  test('every jwtRules field is read', () => {
    const { requestAuthentication } = compiled(
      sec(
        'RequestAuthentication',
        `  selector: {matchLabels: {app: api}}
  jwtRules:
  - issuer: https://issuer.example
    audiences: [api, web]
    jwksUri: https://issuer.example/jwks.json
    fromHeaders: [{name: x-jwt, prefix: "Token "}, {name: x-plain}]
    fromParams: [token]
    fromCookies: [session]
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
    timeout: 2s
    spaceDelimitedClaims: [roles]
  - issuer: local
    jwks: '${JWKS}'
`,
      ),
      'RequestAuthentication',
    );
    assert.deepEqual(requestAuthentication, {
      name: 'p',
      namespace: 'foo',
      selector: { app: 'api' },
      jwtRules: [
        {
          issuer: 'https://issuer.example',
          audiences: ['api', 'web'],
          jwksUri: 'https://issuer.example/jwks.json',
          fromHeaders: [{ name: 'x-jwt', prefix: 'Token ' }, { name: 'x-plain' }],
          fromParams: ['token'],
          fromCookies: ['session'],
          forwardOriginalToken: true,
          outputPayloadToHeader: 'x-jwt-payload',
          outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }],
          timeoutMs: 2000,
          spaceDelimitedClaims: ['roles'],
        },
        {
          issuer: 'local',
          audiences: [],
          jwks: JWKS,
          fromHeaders: [],
          fromParams: [],
          fromCookies: [],
          forwardOriginalToken: false,
          outputClaimToHeaders: [],
          spaceDelimitedClaims: [],
        },
      ],
    });
  });

  test('issues: no key source, bad JWKS, bad URI, header names', () => {
    assert.deepEqual(
      issues(
        sec(
          'RequestAuthentication',
          `  jwtRules:
  - issuer: a
  - issuer: b
    jwks: "{not json"
  - issuer: c
    jwksUri: ftp://keys.example/jwks
    fromHeaders: [{prefix: "Bearer "}]
    outputClaimToHeaders: [{header: "x y", claim: sub}]
  - jwks: '{"keys": []}'
`,
        ),
      ),
      [
        '8:5 spec.jwtRules[0].jwksUri: set jwksUri or jwks: discovering the keys from the issuer (OpenID Connect discovery) is not supported by weft (yet) [missing]',
        `10:5 spec.jwtRules[1].jwks: jwks is not JSON: Expected property name or '}' in JSON at position 1 (line 1 column 2) [invalid]`,
        '12:5 spec.jwtRules[2].jwksUri: "ftp://keys.example/jwks" must be an http or https URL [invalid]',
        '13:19 spec.jwtRules[2].fromHeaders[0].name: field "name" is required [missing]',
        '14:29 spec.jwtRules[2].outputClaimToHeaders[0].header: "x y" is not a valid header name [invalid]',
        '15:5 spec.jwtRules[3].issuer: field "issuer" is required [missing]',
        '15:5 spec.jwtRules[3].jwks: jwks must be a JSON Web Key Set: {"keys": [ ... ]} with at least one key [invalid]',
      ],
    );
  });

  test('jwks and jwksUri together: jwks wins, with a warning', () => {
    const [doc] = parseResources(
      sec(
        'RequestAuthentication',
        `  jwtRules:\n  - issuer: a\n    jwks: '${JWKS}'\n    jwksUri: https://a/jwks\n`,
      ),
      'ra.yaml',
    );
    assert.match(
      doc.warnings.join('\n'),
      /spec\.jwtRules\[0\]\.jwksUri: ignored: jwks is set and takes precedence/,
    );
  });
});

describe('SMI', () => {
  const GROUP = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: the-routes, namespace: shop}
spec:
  matches:
  - name: metrics
    pathRegex: /metrics
    methods: [GET]
  - name: everything
    pathRegex: ".*"
    methods: ["*"]
    headers: {X-Canary: "^yes$"}
`;
  const TARGET = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: path-specific, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: service-a, namespace: shop}
  rules:
  - kind: HTTPRouteGroup
    name: the-routes
    matches: [metrics]
  sources:
  - {kind: ServiceAccount, name: prometheus, namespace: monitoring}
  - {kind: ServiceAccount, name: web}
`;

  test('HTTPRouteGroup: matches with methods (* = all) and lower-cased header names', () => {
    const { httpRouteGroup } = compiled(GROUP, 'HTTPRouteGroup');
    assert.deepEqual(httpRouteGroup, {
      name: 'the-routes',
      namespace: 'shop',
      matches: [
        { name: 'metrics', pathRegex: '/metrics', methods: ['GET'] },
        { name: 'everything', pathRegex: '.*', headers: { 'x-canary': '^yes$' } },
      ],
    });
  });

  test('TrafficTarget: destination, sources (namespace defaults to its own), rules', () => {
    const { trafficTarget } = compiled(TARGET, 'TrafficTarget');
    assert.deepEqual(trafficTarget, {
      name: 'path-specific',
      namespace: 'shop',
      destination: 'service-a',
      sources: [
        { serviceAccount: 'prometheus', namespace: 'monitoring' },
        { serviceAccount: 'web', namespace: 'shop' },
      ],
      rules: [{ routeGroup: 'the-routes', matches: ['metrics'] }],
    });
  });

  test('issues: IdentityBinding and TCPRoute are unsupported; foreign destination; bad regex; duplicate match', () => {
    assert.deepEqual(
      issues(
        TARGET.replace(
          'kind: ServiceAccount, name: service-a, namespace: shop',
          'kind: ServiceAccount, name: a, namespace: other',
        )
          .replace('kind: HTTPRouteGroup', 'kind: TCPRoute')
          .replace('{kind: ServiceAccount, name: web}', '{kind: IdentityBinding, name: web}'),
      ),
      [
        '5:3 spec.destination: a TrafficTarget in namespace shop can only name a destination in its own namespace, not other [invalid]',
        '7:5 spec.rules[0].kind: kind TCPRoute is not supported by weft (yet): only HTTPRouteGroup rules are supported; TCPRoute and UDPRoute are not implemented [unsupported]',
        '12:6 spec.sources[1].kind: kind IdentityBinding is not supported by weft (yet): name a ServiceAccount [unsupported]',
      ],
    );
    assert.deepEqual(
      issues(
        GROUP.replace('pathRegex: /metrics', 'pathRegex: "/(?=x)"').replace(
          'name: everything',
          'name: metrics',
        ),
      ),
      [
        '7:5 spec.matches[0].pathRegex: regex "/(?=x)" uses lookaround, which RE2 (Envoy\'s regex engine) lacks [invalid]',
        '9:5 spec.matches[1].name: name metrics is already used by matches[0] [invalid]',
      ],
    );
  });
});
