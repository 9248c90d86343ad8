// `GET /api/v1/cluster`: which store the control plane uses and, on etcd, its replicas, the leader and the etcd members' health.
import { Etcd3 } from 'etcd3';
import { sendJson } from '../api/http.ts';
import type { ApiRoute } from '../api/server.ts';
import { type EtcdConfig, etcdCredentials } from '../store/etcd-config.ts';
import type { ReplicaInfo } from './replicas.ts';

/** One etcd member as `weft check` shows it. */
export interface EtcdMemberStatus {
  name: string;
  clientUrls: string[];
  healthy: boolean;
  /** This member is the raft leader. */
  leader: boolean;
  version?: string;
  dbSizeBytes?: number;
  error?: string;
}

/** Body of `GET /api/v1/cluster`. */
export interface ClusterStatus {
  store: 'file' | 'etcd';
  /** Id of the replica that answered (etcd only). */
  replica?: string;
  /** Id of the leading replica (etcd only; absent while an election runs). */
  leader?: string;
  replicas?: (ReplicaInfo & { leader: boolean })[];
  etcd?: { endpoints: string[]; members: EtcdMemberStatus[]; error?: string };
}

/** The route; `status` is computed per request. */
export function clusterStatusRoute(status: () => Promise<ClusterStatus>): ApiRoute {
  return {
    path: '/api/v1/cluster',
    methods: {
      GET: async ({ res }) => sendJson(res, 200, await status()),
    },
  };
}

const PROBE_MS = 1500;

/** Asks every member of the cluster for its status, each through its own short-lived client. */
export async function etcdMembers(client: Etcd3, config: EtcdConfig): Promise<EtcdMemberStatus[]> {
  const list = await client.cluster.memberList({}, { deadline: Date.now() + PROBE_MS });
  return Promise.all(
    list.members.map(async (member): Promise<EtcdMemberStatus> => {
      const base = { name: member.name, clientUrls: member.clientURLs, healthy: false, leader: false };
      if (member.clientURLs.length === 0) return { ...base, error: 'not started yet' };
      const probe = new Etcd3({
        hosts: member.clientURLs,
        dialTimeout: PROBE_MS,
        ...etcdCredentials(config),
      });
      try {
        const status = await probe.maintenance.status({ deadline: Date.now() + PROBE_MS });
        return {
          ...base,
          healthy: status.errors.length === 0,
          leader: status.leader === status.header.member_id,
          version: status.version,
          dbSizeBytes: Number(status.dbSize),
          ...(status.errors.length > 0 ? { error: status.errors.join('; ') } : {}),
        };
      } catch (err) {
        return { ...base, error: (err as Error).message.split('\n')[0] };
      } finally {
        probe.close();
      }
    }),
  );
}
