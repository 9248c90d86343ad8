// A configuration change encodes again only the resources whose generated content changed; the rest are the previous snapshot's bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { SnapshotResources } from '../../src/control/xds/resources.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { sidecarNode } from '../helpers/grpc-ads-client.ts';
import { service, snapshot } from '../helpers/grpc-xds-mesh.ts';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';

function mesh(version: number, configVersion: number, ratingsPort: number) {
  return snapshot({
    version,
    configVersion,
    services: [service('reviews', [{ number: 9080 }]), service('ratings', [{ number: ratingsPort }])],
  });
}

test('unchanged clusters keep their encoding across config changes (also after an endpoints-only one); changed ones are new', () => {
  const proxy = proxyFromNode(sidecarNode('reviews-1'));
  const clusters = (r: SnapshotResources) => r.resourceSet(proxy, TYPE_URL.cluster).resources;
  const first = new SnapshotResources(mesh(1, 1, 80), () => {});
  // Sets are built when first asked for (by the push): the earlier snapshot's come first.
  const before = clusters(first).get(REVIEWS);
  const second = new SnapshotResources(mesh(2, 2, 81), () => {}, { previous: first });
  assert.equal(second.endpointsOnly, false);
  assert.equal(clusters(second).get(REVIEWS), before, 'the same encoded resource');
  assert.equal(clusters(second).has('outbound|80||ratings.default.svc.cluster.local'), false);
  assert.ok(clusters(second).get('outbound|81||ratings.default.svc.cluster.local'));
  const endpointsOnly = new SnapshotResources(mesh(3, 2, 81), () => {}, { previous: second });
  assert.equal(endpointsOnly.endpointsOnly, true);
  clusters(endpointsOnly);
  const third = new SnapshotResources(mesh(4, 4, 82), () => {}, { previous: endpointsOnly });
  assert.equal(clusters(third).get(REVIEWS), before);
  const changed = clusters(third).get('outbound|82||ratings.default.svc.cluster.local');
  assert.ok(changed && changed !== clusters(second).get('outbound|81||ratings.default.svc.cluster.local'));
});
