// The etcd store and the replica list after etcd cancelled their watch (it resumed past a compaction): they read etcd again and go on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3, type Lease } from 'etcd3';
import type { Resource } from '../../src/config/resource.ts';
import { type ReplicaInfo, ReplicaSet } from '../../src/control/ha/replicas.ts';
import { EtcdStore } from '../../src/control/store/etcd-store.ts';
import type { StoreEvent } from '../../src/control/store/store.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.ts';

setLogLevel('silent');

let etcd: EtcdCluster;
let client: Etcd3;
let prefixes = 0;

before(async () => {
  etcd = await startEtcdCluster(1);
  client = new Etcd3({ hosts: etcd.members.map((m) => m.clientUrl) });
});
after(async () => {
  client.close();
  await etcd.stop();
});

function thing(name: string): Resource {
  return {
    apiVersion: 'test.weft.dev/v1',
    kind: 'Thing',
    metadata: { name, namespace: 'default' },
    spec: {},
  };
}

/** A client whose connection to etcd the test can cut. */
async function cuttable(t: { after(fn: () => Promise<void>): void }): Promise<[Etcd3, TcpRelay]> {
  const relay = await startTcpRelay(etcd.members[0].clientUrl);
  const remote = new Etcd3({ hosts: relay.url });
  // Runs after the test's own after() hooks (they close what watches through `remote`).
  t.after(async () => {
    remote.close();
    await relay.close();
  });
  return [remote, relay];
}

/** Cuts `relay`, runs `meanwhile` on etcd, compacts past it, and lets the relay through again. */
async function missPastCompaction(
  prefix: string,
  relay: TcpRelay,
  meanwhile: () => Promise<void>,
): Promise<void> {
  relay.cut(true);
  await meanwhile();
  const { header } = await client.put(`${prefix}/compact-marker`).value('x').exec();
  await client.kv.compact({ revision: header.revision, physical: true });
  relay.cut(false);
}

test('a store whose watch resumes past a compaction reads etcd again: watchers get the net change, commits go on', {
  timeout: 90_000,
}, async (t) => {
  const prefix = `/resync-${++prefixes}`;
  const [remote, relay] = await cuttable(t);
  const a = await EtcdStore.open({ client: remote, prefix });
  const b = await EtcdStore.open({ client, prefix });
  t.after(async () => {
    relay.cut(false);
    await a.close();
    await b.close();
  });
  await b.commit([{ type: 'put', resource: thing('old') }]);
  await eventuallyTrue('a to list old', () => a.list().length === 1, 20_000, 20);
  const seen: StoreEvent[] = [];
  a.watch((events) => seen.push(...events));
  await missPastCompaction(prefix, relay, async () => {
    await b.commit([{ type: 'delete', key: { kind: 'Thing', namespace: 'default', name: 'old' } }]);
    await b.commit([{ type: 'put', resource: thing('new') }]);
  });
  await eventuallyTrue('a to reach b revision', () => a.revision() === b.revision(), 60_000, 20);
  assert.deepEqual(
    a.list().map((r) => r.metadata.name),
    ['new'],
  );
  assert.deepEqual(seen.map((e) => `${e.type} ${e.resource.metadata.name} @${e.revision}`).sort(), [
    `delete old @${b.revision()}`,
    `put new @${b.revision()}`,
  ]);
  const before = b.revision();
  const next = await a.commit([{ type: 'put', resource: thing('after') }]);
  assert.equal(next.revision, before + 1);
  await eventuallyTrue(
    'b to see the commit a made after the resync',
    () => b.list().length === 2,
    20_000,
    20,
  );
});

test('a replica whose replica-list watch resumes past a compaction reads the list again: one gone meanwhile leaves it, one new joins it', {
  timeout: 90_000,
}, async (t) => {
  const prefix = `/resync-${++prefixes}`;
  const [remote, relay] = await cuttable(t);
  // The replica under test is the only one campaigning, so it leads at once and no campaign of
  // another replica is left waiting (etcd3 gives no way to cancel that wait's watch). The others
  // announce themselves as a replica does: their info under a lease.
  const replica = new ReplicaSet({ client: remote, prefix, id: 'r1', leaseTtlSeconds: 30, tasks: [] });
  const announce = async (id: string): Promise<Lease> => {
    const lease = client.lease(30);
    const info: ReplicaInfo = { id, host: 'h', pid: 1, api: `http://${id}`, xds: undefined, startedAt: '' };
    await lease.put(`${prefix}/replicas/${id}`).value(JSON.stringify(info));
    return lease;
  };
  const leases: Lease[] = [];
  t.after(async () => {
    relay.cut(false);
    await replica.close();
    for (const lease of leases) await lease.revoke().catch(() => undefined);
  });
  const gone = await announce('r2');
  leases.push(gone);
  await replica.start({ api: 'http://r1', xds: undefined });
  const ids = () => [...replica.live().keys()].sort().join(',');
  await eventuallyTrue('r1 to list r1 and r2', () => ids() === 'r1,r2', 20_000, 20);
  await eventuallyTrue('r1 to lead', () => replica.leading, 20_000, 20);
  await missPastCompaction(prefix, relay, async () => {
    await gone.revoke(); // r2 closes: its announcement goes with its lease
    leases.push(await announce('r3'));
  });
  await eventuallyTrue('r1 to list r1 and r3 after its watch came back', () => ids() === 'r1,r3', 60_000, 20);
});
