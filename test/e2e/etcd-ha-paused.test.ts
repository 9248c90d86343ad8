// End to end: a control-plane replica paused past its etcd lease (as under heavy load) keeps its proxies' endpoints on the other replica, and their later removal reaches it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ClusterStatus } from '../../src/control/ha/cluster-status.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { hostsOf, startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const DETAILS = 'outbound|80||details.default.svc.cluster.local';

async function replicaCount(server: string): Promise<number> {
  const res = await fetch(`${server}/api/v1/cluster`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as ClusterStatus).replicas?.length ?? 0;
}

test('a replica paused past its lease: the leader prunes its registrations, it puts them back, and a later leave reaches the other replica', {
  timeout: 150_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-etcd-paused-'));
  const procs: WeftProcess[] = [];
  let etcd: EtcdCluster | undefined;
  t.after(async () => {
    for (const p of procs) {
      p.child.kill('SIGCONT');
      await p.stop('SIGKILL');
    }
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  etcd = await startEtcdCluster(1);
  const replica = async (name: string) => {
    const cp = await startWeft(
      [
        'control-plane',
        ...['--store', etcd!.storeUrl, '--etcd-lease-ttl', '2s', '--data-dir', join(dir, name)],
        ...['--api', '127.0.0.1:0', '--xds', '127.0.0.1:0', '--push-debounce', '20ms'],
        ...['--registry-grace', '1ms'],
      ],
      { ready: CP_READY },
    );
    procs.push(cp);
    return { api: cp.ready[1], proc: cp };
  };
  // The first replica up leads and prunes; the details sidecar is served by the second only.
  const first = await replica('first');
  const second = await replica('second');
  const { admin } = await startSidecar([first.api], ['--service', 'client', '--app-port', '1'], procs);
  const details = await startSidecar([second.api], ['--service', 'details', '--app-port', '1'], procs);
  await eventuallyTrue('the client (first replica) to have the details endpoint', async () => {
    return (await hostsOf(admin, DETAILS)) === 1;
  });

  // Paused (a stalled event loop): its lease lapses, the leader prunes its registration.
  second.proc.child.kill('SIGSTOP');
  try {
    await eventuallyTrue('the leader to see the paused replica gone', async () => {
      return (await replicaCount(first.api)) === 1;
    });
    await eventuallyTrue('the leader to prune the details registration', async () => {
      return (await hostsOf(admin, DETAILS)) === 0;
    });
  } finally {
    second.proc.child.kill('SIGCONT');
  }
  // The details sidecar never left: its replica registers it again.
  await eventuallyTrue('the client to have the details endpoint again', async () => {
    return (await hostsOf(admin, DETAILS)) === 1;
  });
  await eventuallyTrue('the paused replica to announce itself again', async () => {
    return (await replicaCount(first.api)) === 2;
  });
  // The change the client missed before: the sidecar goes, and the other replica must push it.
  await details.proc.stop('SIGKILL');
  await eventuallyTrue('the client to drop the details endpoint', async () => {
    return (await hostsOf(admin, DETAILS)) === 0;
  });
});
