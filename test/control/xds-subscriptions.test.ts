// Named state-of-the-world subscriptions are shared between streams that sent the same encoded names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namesKey } from '../../src/control/xds/resources.ts';
import { SubscriptionTable } from '../../src/control/xds/subscriptions.ts';
import { adsService, decodeDiscoveryRequest } from '../../src/xds/discovery.ts';

const encode = (names: string[]) =>
  decodeDiscoveryRequest(adsService.StreamAggregatedResources.requestSerialize({ resource_names: names }));

test('the same encoded names give the same subscription object; other names another; none the empty one', () => {
  const table = new SubscriptionTable();
  const a = encode(['b', 'a']);
  let decodes = 0;
  const first = table.of(a.resource_names_bytes, () => {
    decodes++;
    return a.resource_names;
  });
  assert.deepEqual([...first.names], ['b', 'a']);
  assert.equal(first.key, namesKey(['a', 'b']));
  assert.ok(first.bytes?.equals(a.resource_names_bytes!) && first.bytes !== a.resource_names_bytes, 'a copy');
  const again = encode(['b', 'a']);
  assert.equal(
    table.of(again.resource_names_bytes, () => again.resource_names),
    first,
  );
  assert.equal(decodes, 1, 'names are decoded once per distinct list');
  const other = encode(['a', 'b', '*']);
  const star = table.of(other.resource_names_bytes, () => other.resource_names);
  assert.notEqual(star, first);
  assert.equal(star.star, true);
  assert.deepEqual([...star.names], ['a', 'b']);
  assert.equal(table.size, 2);
  const none = table.of(undefined, () => []);
  assert.equal(none.names.size, 0);
  assert.equal(none.bytes, undefined);
});
