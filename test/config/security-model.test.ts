// Security policies in the snapshot: Istio's scoping (mesh, namespace, workload), PeerAuthentication precedence, SMI mapping.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources } from '../../src/config/parse.ts';
import type { Resource } from '../../src/config/resource.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import {
  authorizationPoliciesFor,
  type PolicyTarget,
  peerAuthenticationFor,
  requestAuthenticationsFor,
} from '../../src/model/policies.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { MeshSnapshot } from '../../src/model/types.ts';

/** Parses YAML documents; `created` (minutes after a fixed epoch) is set per document, in order. */
function snapshotOf(text: string, created: number[] = []): MeshSnapshot {
  const resources: Resource[] = parseResources(text, 'policies.yaml').map((d, i) => {
    const minute = created[i] ?? i;
    return {
      ...d.resource,
      metadata: {
        ...d.resource.metadata,
        creationTimestamp: new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString(),
      },
    };
  });
  return snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 1 });
}

function pa(name: string, namespace: string, spec: string): string {
  return `apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}---\n`;
}

const REVIEWS: PolicyTarget = {
  namespace: 'bookinfo',
  labels: { app: 'reviews', version: 'v1' },
  serviceAccount: 'reviews',
};
const RATINGS: PolicyTarget = {
  namespace: 'bookinfo',
  labels: { app: 'ratings' },
  serviceAccount: 'ratings',
};
const OTHER: PolicyTarget = { namespace: 'other', labels: { app: 'reviews' }, serviceAccount: 'reviews' };

describe('peerAuthenticationFor', () => {
  test('no policy: PERMISSIVE', () => {
    assert.equal(peerAuthenticationFor(snapshotOf(''), REVIEWS, 9080), 'PERMISSIVE');
  });

  test('workload > namespace > mesh, and a root-namespace policy is mesh-wide', () => {
    const snap = snapshotOf(
      pa('mesh', 'istio-system', '  mtls: {mode: STRICT}\n') +
        pa('ns', 'bookinfo', '  mtls: {mode: PERMISSIVE}\n') +
        pa('wl', 'bookinfo', '  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: DISABLE}\n'),
    );
    assert.equal(peerAuthenticationFor(snap, REVIEWS, 9080), 'DISABLE');
    assert.equal(peerAuthenticationFor(snap, RATINGS, 9080), 'PERMISSIVE');
    assert.equal(peerAuthenticationFor(snap, OTHER, 9080), 'STRICT');
  });

  test('UNSET inherits from the wider scope; port-level modes win for their port, UNSET ports inherit', () => {
    const snap = snapshotOf(
      pa('mesh', 'istio-system', '  mtls: {mode: STRICT}\n') +
        pa('ns', 'bookinfo', '  mtls: {mode: UNSET}\n') +
        pa(
          'wl',
          'bookinfo',
          '  selector: {matchLabels: {app: reviews}}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n    8081: {mode: UNSET}\n',
        ),
    );
    assert.equal(peerAuthenticationFor(snap, REVIEWS, 9080), 'STRICT');
    assert.equal(peerAuthenticationFor(snap, REVIEWS, 8080), 'DISABLE');
    assert.equal(peerAuthenticationFor(snap, REVIEWS, 8081), 'STRICT');
    assert.equal(peerAuthenticationFor(snap, RATINGS, 8080), 'STRICT');
  });

  test('within one scope the oldest policy wins; a selector in the root namespace is ignored', () => {
    const text =
      pa('newer', 'bookinfo', '  mtls: {mode: DISABLE}\n') +
      pa('older', 'bookinfo', '  mtls: {mode: STRICT}\n') +
      pa(
        'root-selector',
        'istio-system',
        '  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: DISABLE}\n',
      );
    assert.equal(peerAuthenticationFor(snapshotOf(text, [5, 1, 0]), REVIEWS, 9080), 'STRICT');
    assert.equal(peerAuthenticationFor(snapshotOf(text, [1, 5, 0]), REVIEWS, 9080), 'DISABLE');
    assert.equal(peerAuthenticationFor(snapshotOf(text, [1, 5, 0]), OTHER, 9080), 'PERMISSIVE');
  });
});

describe('authorizationPoliciesFor and requestAuthenticationsFor', () => {
  const ap = (name: string, namespace: string, spec: string) =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}---\n`;

  test('root namespace = every namespace; namespace-wide without selector; selector matches labels', () => {
    const snap = snapshotOf(
      ap('mesh-deny', 'istio-system', '  action: DENY\n  rules: [{}]\n') +
        ap('mesh-selected', 'istio-system', '  selector: {matchLabels: {app: ratings}}\n') +
        ap('ns-wide', 'bookinfo', '  {}\n') +
        ap('reviews-only', 'bookinfo', '  selector: {matchLabels: {app: reviews, version: v1}}\n') +
        ap('v2-only', 'bookinfo', '  selector: {matchLabels: {version: v2}}\n') +
        `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: bookinfo}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  jwtRules: [{issuer: a, jwksUri: "https://a/jwks"}]\n`,
    );
    const names = (t: PolicyTarget) => authorizationPoliciesFor(snap, t).map((p) => p.name);
    assert.deepEqual(names(REVIEWS), ['mesh-deny', 'ns-wide', 'reviews-only']);
    assert.deepEqual(names(RATINGS), ['mesh-deny', 'mesh-selected', 'ns-wide']);
    assert.deepEqual(names(OTHER), ['mesh-deny']);
    assert.deepEqual(
      requestAuthenticationsFor(snap, REVIEWS).map((r) => r.name),
      ['jwt'],
    );
    assert.deepEqual(requestAuthenticationsFor(snap, RATINGS), []);
  });

  test('an SMI TrafficTarget is an ALLOW policy on its destination service account, routes resolved', () => {
    const snap = snapshotOf(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: bookinfo}
spec:
  matches:
  - {name: metrics, pathRegex: /metrics, methods: [GET]}
  - {name: api, pathRegex: /api, headers: {x-v: "2"}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: to-reviews, namespace: bookinfo}
spec:
  destination: {kind: ServiceAccount, name: reviews}
  rules:
  - {kind: HTTPRouteGroup, name: routes, matches: [metrics]}
  - {kind: HTTPRouteGroup, name: routes, matches: [api]}
  sources: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: dangling, namespace: bookinfo}
spec:
  destination: {kind: ServiceAccount, name: ratings}
  rules: [{kind: HTTPRouteGroup, name: missing}]
  sources: [{kind: ServiceAccount, name: web}]
`);
    assert.deepEqual(authorizationPoliciesFor(snap, REVIEWS), [
      {
        name: 'to-reviews',
        namespace: 'bookinfo',
        origin: { kind: 'TrafficTarget', namespace: 'bookinfo', name: 'to-reviews' },
        serviceAccount: 'reviews',
        action: 'ALLOW',
        dryRun: false,
        rules: [
          {
            from: [{ principals: ['cluster.local/ns/monitoring/sa/prometheus'] }],
            to: [
              { methods: ['GET'], pathRegex: '/metrics' },
              { pathRegex: '/api', headerRegexes: { 'x-v': '2' } },
            ],
            when: [],
          },
        ],
      },
    ]);
    // A target whose routes do not resolve still selects its workloads and allows nothing.
    const [dangling] = authorizationPoliciesFor(snap, RATINGS);
    assert.equal(dangling.name, 'dangling');
    assert.deepEqual(dangling.rules, []);
    // Same service account in another namespace: not selected.
    assert.deepEqual(authorizationPoliciesFor(snap, OTHER), []);
  });
});
