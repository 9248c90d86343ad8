// Checks of the store behind the control plane: with etcd, its replicas, which one leads, and the etcd members' health.
import type { ClusterStatus, EtcdMemberStatus } from '../control/ha/cluster-status.ts';
import { jsonBody } from './http.ts';
import type { ControlPlaneProbe } from './probe.ts';
import type { CheckResult } from './types.ts';

function member(m: EtcdMemberStatus): string {
  const state = m.healthy
    ? `healthy${m.leader ? ', raft leader' : ''}, etcd ${m.version}`
    : `down: ${m.error}`;
  return `${m.name} ${m.clientUrls.join(' ')} (${state})`;
}

export async function checkCluster(probe: ControlPlaneProbe): Promise<CheckResult[]> {
  const answer = await probe.get('/api/v1/cluster');
  const status = answer.status === 200 ? jsonBody<ClusterStatus>(answer) : undefined;
  if (!status)
    return [{ name: 'store is known', outcome: 'warn', detail: `/api/v1/cluster answered ${answer.status}` }];
  if (status.store === 'file')
    return [{ name: 'store', outcome: 'info', detail: 'file: one control plane, its store in its data dir' }];
  const results: CheckResult[] = [];
  const replicas = status.replicas ?? [];
  const leader = replicas.find((r) => r.leader);
  results.push(
    leader
      ? { name: 'a replica leads', outcome: 'pass', detail: `${leader.id} (${leader.api})` }
      : {
          name: 'a replica leads',
          outcome: 'fail',
          detail: 'no replica holds the leadership',
          hint: 'an election is running, or etcd has no quorum: see the etcd members below',
        },
  );
  for (const r of replicas)
    results.push({
      name: `replica ${r.id}`,
      outcome: 'info',
      detail: `api ${r.api}, xds ${r.xds ?? '(none)'}, up since ${r.startedAt}${r.leader ? ', leader' : ''}${r.id === status.replica ? ', answered this check' : ''}`,
    });
  const members = status.etcd?.members ?? [];
  const healthy = members.filter((m) => m.healthy).length;
  const quorum = Math.floor(members.length / 2) + 1;
  const detail = members.length > 0 ? members.map(member).join('; ') : (status.etcd?.error ?? 'no members');
  results.push({
    name: 'every etcd member is healthy',
    outcome: members.length > 0 && healthy === members.length ? 'pass' : healthy >= quorum ? 'warn' : 'fail',
    detail,
    ...(healthy < members.length || members.length === 0
      ? { hint: `${healthy} of ${members.length} members answer; etcd needs ${quorum} for writes` }
      : {}),
  });
  return results;
}
