// The control plane's parts for `--store etcd://...`: the etcd store, the shared registry, CA material, replicas and leader work.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { StoreUnavailableError } from '../../errors.ts';
import type { ApiRoute } from '../api/server.ts';
import type { ControlPlaneAddresses, ControlPlaneParts } from '../control-plane.ts';
import { connectEtcd, type EtcdConfig } from '../store/etcd-config.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import { HISTORY_KEPT } from '../store/history-file.ts';
import { syncCaMaterial } from './ca-sync.ts';
import { type ClusterStatus, clusterStatusRoute, etcdMembers } from './cluster-status.ts';
import { EtcdRegistry } from './etcd-registry.ts';
import { ReplicaSet } from './replicas.ts';

/** How long a starting replica waits for etcd to answer before it gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface EtcdHaConfig {
  etcd: EtcdConfig;
  /** Lease of a replica's announcement and of the leadership (seconds, `--etcd-lease-ttl`). */
  leaseTtlSeconds: number;
}

/** One replica's connection to the cluster; give `parts()` to the ControlPlane, `announce()` once it serves. */
export class EtcdHa {
  readonly replicaId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly #config: EtcdHaConfig;
  #client: Etcd3 | undefined;
  #store: EtcdStore | undefined;
  #registry: EtcdRegistry | undefined;
  #replicas: ReplicaSet | undefined;

  constructor(config: EtcdHaConfig) {
    this.#config = config;
  }

  parts(): Required<Pick<ControlPlaneParts, 'openStore' | 'openRegistry'>> & { routes(): ApiRoute[] } {
    const { prefix } = this.#config.etcd;
    return {
      openStore: async (config) => {
        const client = connectEtcd(this.#config.etcd);
        this.#client = client;
        try {
          await client
            .get(`${prefix}/config/revision`)
            .options({ deadline: Date.now() + CONNECT_TIMEOUT_MS });
        } catch (err) {
          client.close();
          throw new StoreUnavailableError(
            `cannot reach etcd at ${this.#config.etcd.endpoints.join(', ')} (${(err as Error).message.split('\n')[0]}): start it, or fix --store and the --etcd-* TLS flags`,
            err,
          );
        }
        await syncCaMaterial(client, prefix, {
          dataDir: config.dataDir,
          trustDomain: config.mesh?.trustDomain,
          ...config.ca,
        });
        this.#store = await EtcdStore.open({ client, prefix });
        return this.#store;
      },
      openRegistry: async (config) => {
        this.#registry = await EtcdRegistry.open({
          client: this.#etcd(),
          prefix,
          replicaId: this.replicaId,
          graceMs: config.registryGraceMs,
          replicaTimeoutMs: this.#config.leaseTtlSeconds * 1000,
        });
        return this.#registry;
      },
      routes: () => [clusterStatusRoute(() => this.status())],
    };
  }

  /** Announces this replica with its addresses and joins the leader election. */
  async announce(addresses: ControlPlaneAddresses): Promise<void> {
    const registry = this.#registry;
    const store = this.#store;
    if (!registry || !store) throw new Error('announce() before the control plane started');
    this.#replicas = new ReplicaSet({
      client: this.#etcd(),
      prefix: this.#config.etcd.prefix,
      id: this.replicaId,
      leaseTtlSeconds: this.#config.leaseTtlSeconds,
      tasks: [
        {
          name: 'prune-registrations',
          intervalMs: 1000,
          run: async (replicas) => {
            await registry.pruneOrphans(new Set(replicas.live().keys()), Date.now(), replicas.leaderSince);
          },
        },
        { name: 'prune-history', intervalMs: 60_000, run: () => store.pruneHistory(HISTORY_KEPT) },
      ],
    });
    await this.#replicas.start({ api: addresses.apiUrl, xds: addresses.xdsAddress });
  }

  async status(): Promise<ClusterStatus> {
    const replicas = this.#replicas;
    const leader = await replicas?.leader().catch(() => undefined);
    let etcd: ClusterStatus['etcd'];
    try {
      etcd = {
        endpoints: this.#config.etcd.endpoints,
        members: await etcdMembers(this.#etcd(), this.#config.etcd),
      };
    } catch (err) {
      etcd = {
        endpoints: this.#config.etcd.endpoints,
        members: [],
        error: (err as Error).message.split('\n')[0],
      };
    }
    return {
      store: 'etcd',
      replica: this.replicaId,
      leader,
      replicas: [...(replicas?.live().values() ?? [])]
        .map((info) => ({ ...info, leader: info.id === leader }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      etcd,
    };
  }

  /** Leaves the election and withdraws the announcement; call after the control plane stopped. */
  async close(): Promise<void> {
    await this.#replicas?.close();
    this.#client?.close();
  }

  #etcd(): Etcd3 {
    if (!this.#client) throw new Error('the etcd store is not open');
    return this.#client;
  }
}
