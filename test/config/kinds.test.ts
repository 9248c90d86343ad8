// Kind names for the CLI and API: Kind, any case, plural, short name, with or without the API group.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listKinds, resolveKind } from '../../src/config/kinds.ts';

test('every spelling of a kind resolves to it', () => {
  for (const name of [
    'VirtualService',
    'virtualservice',
    'VIRTUALSERVICE',
    'virtualservices',
    'vs',
    'vs.networking.istio.io',
  ])
    assert.equal(resolveKind(name)?.kind, 'VirtualService', name);
  assert.equal(resolveKind('dr')?.kind, 'DestinationRule');
  assert.equal(resolveKind('se')?.kind, 'ServiceEntry');
  assert.equal(resolveKind('we')?.kind, 'WorkloadEntry');
  assert.equal(resolveKind('serviceentries')?.kind, 'ServiceEntry');
  assert.equal(resolveKind('gw')?.kind, 'Gateway');
  assert.equal(resolveKind('gateways.gateway.networking.k8s.io')?.kind, 'Gateway');
  assert.equal(resolveKind('httproutes')?.kind, 'HTTPRoute');
  assert.equal(resolveKind('mc')?.kind, 'MeshConfig');
  assert.equal(resolveKind('sidecars')?.kind, 'Sidecar');
  assert.equal(resolveKind('envoyfilter'), undefined);
  assert.equal(resolveKind('vs.example.com'), undefined);
});

test('listKinds names the supported kinds with their API versions', () => {
  const kinds = listKinds();
  assert.deepEqual(
    kinds.map((k) => k.kind),
    [
      'VirtualService',
      'DestinationRule',
      'ServiceEntry',
      'WorkloadEntry',
      'Sidecar',
      'PeerAuthentication',
      'AuthorizationPolicy',
      'RequestAuthentication',
      'TrafficTarget',
      'TrafficSplit',
      'HTTPRouteGroup',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'TCPRoute',
      'TLSRoute',
      'GatewayClass',
      'ReferenceGrant',
      'Telemetry',
      'MeshConfig',
      'RateLimit',
      'HTTPLocalRateLimitPolicy',
      'Server',
      'MeshTLSAuthentication',
      'NetworkAuthentication',
      'ServerAuthorization',
      'ServiceProfile',
    ],
  );
  for (const kind of kinds.slice(0, 4)) {
    assert.deepEqual(kind.apiVersions, [
      'networking.istio.io/v1',
      'networking.istio.io/v1beta1',
      'networking.istio.io/v1alpha3',
    ]);
    assert.equal(kind.namespaced, true);
  }
  // Callers get copies: changing them does not change the registry.
  kinds[0].shortNames.push('oops');
  assert.deepEqual(resolveKind('vs')?.shortNames, ['vs']);
});
