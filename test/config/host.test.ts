// Host qualification (short names relative to the resource's namespace) and wildcard matching.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostSyntaxError, qualifyHost } from '../../src/config/host.ts';
import { hostMatches, serviceHostname, shortServiceName } from '../../src/model/hostnames.ts';

const context = {
  namespace: 'default',
  domainSuffix: 'cluster.local',
  namespaces: new Set(['default', 'prod']),
};

test('short names are qualified relative to the namespace of the resource', () => {
  assert.equal(qualifyHost('reviews', context), 'reviews.default.svc.cluster.local');
  assert.equal(qualifyHost('Reviews', context), 'reviews.default.svc.cluster.local');
  assert.equal(qualifyHost('reviews', { ...context, namespace: 'prod' }), 'reviews.prod.svc.cluster.local');
  assert.equal(qualifyHost('reviews.prod', context), 'reviews.prod.svc.cluster.local');
  assert.equal(qualifyHost('reviews.prod.svc', context), 'reviews.prod.svc.cluster.local');
  assert.equal(
    qualifyHost('reviews.default.svc.cluster.local', context),
    'reviews.default.svc.cluster.local',
  );
});

test('other names, wildcards and IPs stay as written', () => {
  assert.equal(qualifyHost('api.example.com', context), 'api.example.com');
  // Two labels whose second is not a namespace the mesh knows: a DNS name, as Istio reads it.
  assert.equal(qualifyHost('httpbin.org', context), 'httpbin.org');
  assert.equal(qualifyHost('*', context), '*');
  assert.equal(qualifyHost('*.example.com', context), '*.example.com');
  assert.equal(qualifyHost('10.1.2.3', context), '10.1.2.3');
});

test('wildcards cover any name under their suffix', () => {
  assert.ok(hostMatches('*.example.com', 'api.example.com'));
  assert.ok(hostMatches('*.example.com', 'a.b.example.com'));
  assert.ok(!hostMatches('*.example.com', 'example.com'));
  assert.ok(!hostMatches('*.example.com', 'api.example.org'));
  assert.ok(hostMatches('*', 'anything.at.all'));
  assert.ok(hostMatches('api.example.com', 'api.example.com'));
  assert.ok(!hostMatches('api.example.com', 'web.example.com'));
});

test('service hostnames and short names', () => {
  assert.equal(serviceHostname('reviews', 'default', 'cluster.local'), 'reviews.default.svc.cluster.local');
  assert.equal(shortServiceName('reviews.default.svc.cluster.local', 'cluster.local'), 'reviews');
  assert.equal(shortServiceName('api.example.com', 'cluster.local'), 'api.example.com');
});

test('host syntax', () => {
  assert.equal(hostSyntaxError('reviews'), undefined);
  assert.equal(hostSyntaxError('*.example.com'), undefined);
  assert.match(hostSyntaxError('*foo.example.com') ?? '', /not a valid hostname/);
  assert.match(hostSyntaxError('a..b') ?? '', /not a valid hostname/);
  assert.match(hostSyntaxError('under_score') ?? '', /not a valid hostname/);
  assert.match(hostSyntaxError('10.0.0.1') ?? '', /IP address/);
  assert.equal(hostSyntaxError('10.0.0.1', { allowIp: true }), undefined);
  assert.equal(hostSyntaxError('::1', { allowIp: true }), undefined);
});
