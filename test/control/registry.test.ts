// MemoryRegistry: join/leave with a grace period, re-join cancelling removal, change notifications.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryRegistry } from '../../src/control/registry/memory.ts';
import type { Workload } from '../../src/model/types.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';

setLogLevel('silent');

function workload(uid: string, address = '127.0.0.1'): Workload {
  return {
    uid,
    name: uid,
    namespace: 'default',
    address,
    labels: { app: 'reviews', version: 'v1' },
    serviceAccount: 'reviews',
    ports: {},
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
  };
}

test('join lists the workload and notifies; an identical re-join is not a change', (t) => {
  const registry = new MemoryRegistry({ graceMs: 50 });
  t.after(() => registry.close());
  let changes = 0;
  registry.onChange(() => changes++);
  registry.join(workload('proxy~b'));
  registry.join(workload('proxy~a'));
  assert.deepEqual(
    registry.list().map((w) => w.uid),
    ['proxy~a', 'proxy~b'],
  );
  assert.equal(changes, 2);
  registry.join(workload('proxy~a'));
  assert.equal(changes, 2);
  registry.join(workload('proxy~a', '10.0.0.7'));
  assert.equal(changes, 3);
  assert.equal(registry.list()[0].address, '10.0.0.7');
});

test('leave keeps the workload through the grace period, then removes it and notifies', async (t) => {
  const registry = new MemoryRegistry({ graceMs: 100 });
  t.after(() => registry.close());
  registry.join(workload('proxy~a'));
  let changes = 0;
  registry.onChange(() => changes++);
  registry.leave('proxy~a');
  assert.equal(registry.list().length, 1, 'still registered right after leave');
  assert.equal(changes, 0);
  await eventuallyTrue('removal after the grace period', () => registry.list().length === 0, 5000, 5);
  assert.equal(changes, 1);
});

test('a re-join within the grace period cancels the removal', async (t) => {
  const registry = new MemoryRegistry({ graceMs: 100 });
  t.after(() => registry.close());
  registry.join(workload('proxy~a'));
  registry.join(workload('proxy~control'));
  registry.leave('proxy~a');
  registry.leave('proxy~control');
  registry.join(workload('proxy~a'));
  // The control workload (not re-joined) going away proves the grace period has passed.
  await eventuallyTrue(
    'control removal',
    () => registry.list().every((w) => w.uid !== 'proxy~control'),
    5000,
    5,
  );
  await sleep(150);
  assert.deepEqual(
    registry.list().map((w) => w.uid),
    ['proxy~a'],
  );
});

test('leave of an unknown uid is ignored; listeners can unsubscribe; close cancels pending removals', async () => {
  const registry = new MemoryRegistry({ graceMs: 30 });
  let changes = 0;
  const off = registry.onChange(() => changes++);
  registry.leave('proxy~nobody');
  registry.join(workload('proxy~a'));
  assert.equal(changes, 1);
  off();
  registry.join(workload('proxy~b'));
  assert.equal(changes, 1);
  registry.leave('proxy~a');
  registry.close();
  await sleep(100);
  assert.equal(registry.list().length, 2, 'no removal after close');
});

test('a change made inside a listener is reported after the current round, not re-entrantly', (t) => {
  const registry = new MemoryRegistry({ graceMs: 50 });
  t.after(() => registry.close());
  const calls: string[] = [];
  let depth = 0;
  registry.onChange(() => {
    depth++;
    calls.push(`depth${depth}:${registry.list().length}`);
    if (registry.list().length === 1) registry.join(workload('proxy~second'));
    depth--;
  });
  registry.join(workload('proxy~first'));
  assert.deepEqual(calls, ['depth1:1', 'depth1:2']);
});
