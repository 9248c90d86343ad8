// EtcdRegistry against a real etcd member: registrations shared by replicas, taken over on reconnect, pruned by the leader.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdRegistry } from '../../src/control/ha/etcd-registry.ts';
import type { Workload } from '../../src/model/types.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { startTcpRelay } from '../helpers/tcp-relay.ts';

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

function workload(uid: string): Workload {
  return {
    uid,
    name: uid,
    namespace: 'default',
    address: '10.0.0.1',
    labels: { app: 'reviews' },
    serviceAccount: 'reviews',
    ports: { http: 8080 },
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
  };
}

async function replicas(graceMs: number): Promise<[EtcdRegistry, EtcdRegistry, string]> {
  const prefix = `/test-${++prefixes}`;
  const a = await EtcdRegistry.open({ client, prefix, replicaId: 'a', graceMs });
  const b = await EtcdRegistry.open({ client, prefix, replicaId: 'b', graceMs });
  return [a, b, prefix];
}

const uids = (r: EtcdRegistry) => r.list().map((w) => w.uid);

test('a join on one replica is listed by the other; the grace period ends it on both', async (t) => {
  const [a, b] = await replicas(200);
  t.after(() => {
    a.close();
    b.close();
  });
  let changes = 0;
  b.onChange(() => changes++);
  a.join(workload('proxy~1'));
  assert.deepEqual(uids(a), ['proxy~1'], 'at once on the replica that serves it');
  await eventuallyTrue('replica b to list proxy~1', () => uids(b).length === 1, 20_000, 20);
  assert.equal(changes, 1);
  a.leave('proxy~1');
  assert.deepEqual(uids(a), ['proxy~1'], 'still listed during the grace period');
  await eventuallyTrue(
    'both to drop proxy~1',
    () => uids(a).length === 0 && uids(b).length === 0,
    20_000,
    20,
  );
});

test('a proxy that reconnects to another replica stays registered when the first one’s grace period ends', async (t) => {
  const [a, b] = await replicas(200);
  t.after(() => {
    a.close();
    b.close();
  });
  a.join(workload('proxy~2'));
  await eventuallyTrue('b to see proxy~2', () => uids(b).length === 1, 20_000, 20);
  a.leave('proxy~2');
  b.join(workload('proxy~2'));
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(uids(a), ['proxy~2']);
  assert.deepEqual(uids(b), ['proxy~2']);
});

test('a join and a leave faster than the put leave no registration behind', async (t) => {
  const [a, b, prefix] = await replicas(1);
  t.after(() => {
    a.close();
    b.close();
  });
  for (let i = 0; i < 20; i++) {
    a.join(workload(`proxy~fast-${i}`));
    a.leave(`proxy~fast-${i}`);
  }
  await eventuallyTrue(
    'every registration to be gone from etcd',
    async () => (await client.getAll().prefix(`${prefix}/registry/`).keys()).length === 0,
    20_000,
    50,
  );
  // The replica's own view follows etcd through its watch, which can lag the delete by a moment.
  await eventuallyTrue('replica a to list none of them', () => uids(a).length === 0, 20_000, 20);
  assert.deepEqual(uids(a), []);
});

test('the leader prunes a registration whose replica is gone, once a grace period passed', async (t) => {
  const [a, b] = await replicas(10_000);
  t.after(() => b.close());
  a.join(workload('proxy~3'));
  await eventuallyTrue('b to see proxy~3', () => uids(b).length === 1, 20_000, 20);
  a.close(); // replica a dies; its registration stays for its proxy to come back elsewhere
  const live = new Set(['b']);
  assert.equal(await b.pruneOrphans(live, 1_000), 0, 'first seen orphaned');
  assert.equal(await b.pruneOrphans(live, 5_000), 0, 'within the grace period');
  assert.equal(await b.pruneOrphans(live, 11_001), 1, 'after it');
  await eventuallyTrue('b to drop proxy~3', () => uids(b).length === 0, 20_000, 20);
});

test('a registration the leader pruned while its replica still serves the proxy is put back, and its leave still reaches the other replica', async (t) => {
  // Under load a replica can miss its lease renewals: its announcement expires, the leader
  // prunes its registrations, and the replica announces itself again with the proxy still connected.
  const [a, b, prefix] = await replicas(1);
  t.after(() => {
    a.close();
    b.close();
  });
  a.join(workload('proxy~4'));
  await eventuallyTrue('b to see proxy~4', () => uids(b).length === 1, 20_000, 20);
  const onlyB = new Set(['b']);
  await b.pruneOrphans(onlyB, 1_000);
  assert.equal(await b.pruneOrphans(onlyB, 2_000), 1, 'pruned: replica a looked gone');
  await eventuallyTrue(
    'replica a to register proxy~4 again',
    async () => {
      const value = await client.get(`${prefix}/registry/${encodeURIComponent('proxy~4')}`).string();
      return value !== null && JSON.parse(value).replica === 'a';
    },
    20_000,
    50,
  );
  await eventuallyTrue('b to list proxy~4 again', () => uids(b).length === 1, 20_000, 20);
  a.leave('proxy~4'); // the proxy goes: both replicas must drop it
  await eventuallyTrue(
    'both to drop proxy~4',
    () => uids(a).length === 0 && uids(b).length === 0,
    20_000,
    20,
  );
});

test('a replica whose watch resumes past a compaction reads the registry again: a leave it missed reaches it', {
  timeout: 90_000,
}, async (t) => {
  const prefix = `/test-${++prefixes}`;
  const cutOff = await startTcpRelay(etcd.members[0].clientUrl);
  const remote = new Etcd3({ hosts: cutOff.url });
  const a = await EtcdRegistry.open({ client: remote, prefix, replicaId: 'a', graceMs: 1 });
  const b = await EtcdRegistry.open({ client, prefix, replicaId: 'b', graceMs: 1 });
  // In this order: a's watch is cancelled while etcd can still answer (a watch left attached to a
  // closed client retries for ever on a timer that keeps the process alive), then its client, then the relay.
  t.after(async () => {
    cutOff.cut(false);
    await a.close();
    await b.close();
    remote.close();
    await cutOff.close();
  });
  b.join(workload('proxy~5'));
  await eventuallyTrue('a to see proxy~5', () => uids(a).length === 1, 20_000, 20);
  cutOff.cut(true); // replica a loses etcd; meanwhile the proxy leaves and etcd compacts
  b.leave('proxy~5');
  await eventuallyTrue('the registration to leave etcd', async () => {
    return (await client.getAll().prefix(`${prefix}/registry/`).keys()).length === 0;
  });
  const { header } = await client.put(`${prefix}/other`).value('x').exec();
  await client.kv.compact({ revision: header.revision, physical: true });
  let changes = 0;
  a.onChange(() => changes++);
  cutOff.cut(false);
  await eventuallyTrue('a to drop proxy~5 after its watch came back', () => uids(a).length === 0, 60_000, 20);
  assert.equal(changes, 1, `one change told to a, not ${changes}`);
});

test('a registration naming a replica that does not serve its proxy (a put etcd applied after the leave) is deleted by that replica, and the other drops it', async (t) => {
  // The put's reply was lost (or it landed after the replica gave up on it): the replica is alive,
  // so the leader never prunes the key, and without this the endpoint outlives its proxy for good.
  const [a, b, prefix] = await replicas(1);
  t.after(() => {
    a.close();
    b.close();
  });
  const key = `${prefix}/registry/${encodeURIComponent('proxy~6')}`;
  await client.put(key).value(JSON.stringify({ replica: 'a', workload: workload('proxy~6') }));
  await eventuallyTrue('the stale registration to leave etcd', async () => (await client.get(key)) === null);
  await eventuallyTrue(
    'both replicas to drop proxy~6',
    () => uids(a).length === 0 && uids(b).length === 0,
    20_000,
    20,
  );
});

test('the leader prunes a lapsed replica once, after the replica timeout, and not again while that replica puts its registrations back', async (t) => {
  // A replica stalled past its lease (or still starting) is not announced, but it still writes:
  // pruning each registration it puts back again would flap its endpoints every round.
  const prefix = `/test-${++prefixes}`;
  const a = await EtcdRegistry.open({ client, prefix, replicaId: 'a', graceMs: 1 });
  const b = await EtcdRegistry.open({ client, prefix, replicaId: 'b', graceMs: 1, replicaTimeoutMs: 3000 });
  t.after(() => {
    a.close();
    b.close();
  });
  a.join(workload('proxy~7'));
  await eventuallyTrue('b to see proxy~7', () => uids(b).length === 1, 20_000, 20);
  const onlyB = new Set(['b']);
  assert.equal(await b.pruneOrphans(onlyB, 1_000), 0, 'replica a wrote: alive now');
  assert.equal(await b.pruneOrphans(onlyB, 3_000), 0, 'within the replica timeout');
  let changes = 0;
  b.onChange(() => changes++);
  assert.equal(await b.pruneOrphans(onlyB, 4_500), 1, 'replica a silent for longer: pruned');
  // Two changes: the delete empties b's list, a's put-back fills it again.
  await eventuallyTrue(
    'b to see proxy~7 put back by a',
    () => changes === 2 && uids(b).length === 1,
    20_000,
    20,
  );
  let pruned = 0;
  for (const now of [5_500, 6_500, 7_500]) pruned += await b.pruneOrphans(onlyB, now);
  assert.equal(pruned, 0, 'replica a put it back: alive, so not pruned again');
  assert.equal(await b.pruneOrphans(new Set(['a', 'b']), 8_000), 0, 'announced again');
  assert.equal(await b.pruneOrphans(onlyB, 10_000), 0, 'gone again, timeout counted from then');
  assert.deepEqual(uids(b), ['proxy~7']);
});

test('a registration another replica took over and then deleted (its proxy left it) is not put back by the first replica', async (t) => {
  // The first replica has not yet seen its old stream end (a half-open connection): the proxy moved
  // on and then left, so putting its registration back would list an endpoint that is gone.
  const [a, b, prefix] = await replicas(1);
  t.after(() => {
    a.close();
    b.close();
  });
  const key = `${prefix}/registry/${encodeURIComponent('proxy~8')}`;
  a.join(workload('proxy~8'));
  await eventuallyTrue('b to see proxy~8', () => uids(b).length === 1, 20_000, 20);
  b.join(workload('proxy~8'));
  await eventuallyTrue('the registration to name b', async () => {
    const value = await client.get(key).string();
    return value !== null && JSON.parse(value).replica === 'b';
  });
  b.leave('proxy~8');
  await eventuallyTrue('b to drop proxy~8', () => uids(b).length === 0, 20_000, 20);
  // Once a lists a registration made after the delete, it has handled the delete (a watch is in order).
  b.join(workload('proxy~marker'));
  await eventuallyTrue('a to see proxy~marker', () => uids(a).includes('proxy~marker'), 20_000, 20);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await client.get(key).string(), null, 'not registered again by a');
  assert.deepEqual(uids(b), ['proxy~marker']);
});

test('a new leadership term counts a replica’s silence afresh: the leader that replaced a stalled one does not prune it at once', async (t) => {
  // b led before (it saw a then), lost the lead, and leads again because a (the leader meanwhile)
  // stalled: what b saw in its earlier term must not make a look silent for all that time.
  const prefix = `/test-${++prefixes}`;
  const a = await EtcdRegistry.open({ client, prefix, replicaId: 'a', graceMs: 1 });
  const b = await EtcdRegistry.open({ client, prefix, replicaId: 'b', graceMs: 1, replicaTimeoutMs: 3000 });
  t.after(() => {
    a.close();
    b.close();
  });
  a.join(workload('proxy~9'));
  await eventuallyTrue('b to see proxy~9', () => uids(b).length === 1, 20_000, 20);
  assert.equal(await b.pruneOrphans(new Set(['a', 'b']), 1_000, 'term 1'), 0);
  const onlyB = new Set(['b']);
  assert.equal(await b.pruneOrphans(onlyB, 100_000, 'term 2'), 0, 'a new term: a just went silent');
  assert.equal(await b.pruneOrphans(onlyB, 102_000, 'term 2'), 0, 'within the replica timeout');
  assert.equal(await b.pruneOrphans(onlyB, 103_500, 'term 2'), 1, 'silent for longer in this term');
});
