// Service VIPs: stable per hostname, in 240.240.0.0/16, unique, a ServiceEntry's own addresses kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocateVips } from '../../src/model/vips.ts';
import { service } from '../helpers/grpc-xds-mesh.ts';

function table(...services: ReturnType<typeof service>[]) {
  return allocateVips(new Map(services.map((s) => [s.hostname, s])));
}

test('each service gets one VIP in 240.240.0.0/16, the same whatever else is in the mesh', () => {
  const alone = table(service('reviews', [{ number: 9080 }]));
  const crowd = table(
    ...Array.from({ length: 300 }, (_, i) => service(`svc${i}`, [{ number: 80 }])),
    service('reviews', [{ number: 9080 }]),
  );
  const vip = alone.get('reviews.default.svc.cluster.local')?.[0] ?? '';
  assert.match(vip, /^240\.240\.\d{1,3}\.\d{1,3}$/);
  assert.notEqual(vip, '240.240.0.0');
  assert.deepEqual(crowd.get('reviews.default.svc.cluster.local'), [vip]);
  const all = [...crowd.values()].map((v) => v[0]);
  assert.equal(new Set(all).size, all.length, 'no two services share a VIP');
});

test("a ServiceEntry's own IP addresses are its VIPs; CIDRs and wildcard hosts get none", () => {
  const vips = table(
    service('db', [{ number: 5432 }], { hostname: 'db.example.com', addresses: ['10.9.9.9', '10.0.0.0/8'] }),
    service('net', [{ number: 443 }], { hostname: 'net.example.com', addresses: ['10.0.0.0/8'] }),
    service('any', [{ number: 443 }], { hostname: '*.example.org' }),
  );
  assert.deepEqual(vips.get('db.example.com'), ['10.9.9.9']);
  assert.match(vips.get('net.example.com')?.[0] ?? '', /^240\.240\./);
  assert.equal(vips.has('*.example.org'), false);
});
