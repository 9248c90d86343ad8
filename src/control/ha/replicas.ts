// Control-plane replicas on one etcd cluster: each announces itself under a lease, one leads (etcd election) and runs the once-only work.
import { hostname } from 'node:os';
import type { Campaign, Election, Etcd3, IWatchResponse, Lease } from 'etcd3';
import { logger } from '../../observe/log.ts';
import { ResyncWatch } from './resync-watch.ts';

/** What a replica announces in `P/replicas/<id>`. */
export interface ReplicaInfo {
  id: string;
  host: string;
  pid: number;
  /** Base URL of its HTTP API. */
  api: string;
  /** `host:port` of its xDS server. */
  xds: string | undefined;
  startedAt: string;
}

/** Work only the leader does, every `intervalMs`. */
export interface LeaderTask {
  name: string;
  intervalMs: number;
  run(replicas: ReplicaSet): Promise<void>;
}

export interface ReplicaSetConfig {
  client: Etcd3;
  prefix: string;
  id: string;
  /** Lease of the announcement and of the leadership (seconds): a dead replica is gone, and its leadership moves, within it. */
  leaseTtlSeconds: number;
  tasks: LeaderTask[];
}

const RETRY_MS = 1000;

export class ReplicaSet {
  readonly id: string;
  readonly #config: ReplicaSetConfig;
  readonly #log = logger({ component: 'replicas' });
  readonly #live = new Map<string, ReplicaInfo>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #lease: Lease | undefined;
  #election: Election | undefined;
  #campaign: Campaign | undefined;
  #watch: ResyncWatch | undefined;
  #info: ReplicaInfo | undefined;
  #leading = false;
  #leaderSince: string | undefined;
  #closed = false;

  constructor(config: ReplicaSetConfig) {
    this.#config = config;
    this.id = config.id;
  }

  /** Announces this replica (API and xDS addresses), watches the others and campaigns for leadership. */
  async start(addresses: { api: string; xds: string | undefined }): Promise<void> {
    const { client, prefix } = this.#config;
    this.#info = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      api: addresses.api,
      xds: addresses.xds,
      startedAt: new Date().toISOString(),
    };
    this.#watch = await ResyncWatch.open({
      client,
      prefix: `${prefix}/replicas/`,
      what: 'replica list',
      log: this.#log,
      // Read again after a cancelled watch: replicas gone meanwhile are not in it any more.
      onSnapshot: (kvs) => {
        this.#live.clear();
        for (const kv of kvs) this.#remember(kv.value.toString('utf8'));
      },
      onEvents: (res) => this.#onWatch(res),
    });
    await this.#announce();
    this.#election = client.election(`${prefix}/leader`, this.#config.leaseTtlSeconds);
    this.#campaignNow();
  }

  /** Whether this replica leads now. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Replicas whose announcement is alive (this one included), by id. */
  live(): ReadonlyMap<string, ReplicaInfo> {
    return this.#live;
  }

  /** The id of the leading replica, as etcd says now. */
  async leader(): Promise<string | undefined> {
    return this.#election?.leader();
  }

  /** Since when this replica leads (ISO time), if it does. */
  get leaderSince(): string | undefined {
    return this.#leading ? this.#leaderSince : undefined;
  }

  /** Resigns leadership and withdraws the announcement, so another replica takes over at once. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#leading = false;
    await this.#campaign?.resign().catch(() => undefined);
    await this.#watch?.close();
    await this.#lease?.revoke().catch(() => undefined);
  }

  #later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) work();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  async #announce(): Promise<void> {
    const lease = this.#config.client.lease(this.#config.leaseTtlSeconds);
    this.#lease = lease;
    lease.on('lost', (err) => {
      if (this.#closed) return;
      this.#log.warn({ err: err.message }, 'lost the replica lease; announcing again');
      this.#later(RETRY_MS, () => void this.#announce().catch(() => undefined));
    });
    await lease.put(`${this.#config.prefix}/replicas/${this.id}`).value(JSON.stringify(this.#info));
  }

  #campaignNow(): void {
    if (this.#closed || !this.#election) return;
    const campaign = this.#election.campaign(this.id);
    this.#campaign = campaign;
    campaign.on('elected', () => {
      if (this.#closed) return;
      this.#leading = true;
      this.#leaderSince = new Date().toISOString();
      this.#log.info({ replica: this.id }, 'this replica leads: it runs the once-only work');
      for (const task of this.#config.tasks) this.#runTask(task, campaign);
    });
    campaign.on('error', (err: Error) => {
      if (this.#closed) return;
      this.#leading = false;
      this.#log.warn({ err: err.message }, 'leader campaign failed; campaigning again');
      this.#later(RETRY_MS, () => this.#campaignNow());
    });
  }

  #runTask(task: LeaderTask, campaign: Campaign): void {
    if (this.#closed || this.#campaign !== campaign || !this.#leading) return;
    task.run(this).then(
      () => this.#later(task.intervalMs, () => this.#runTask(task, campaign)),
      (err: Error) => {
        this.#log.warn({ task: task.name, err: err.message }, 'leader task failed; retrying');
        this.#later(task.intervalMs, () => this.#runTask(task, campaign));
      },
    );
  }

  #remember(value: string): void {
    try {
      const info = JSON.parse(value) as ReplicaInfo;
      this.#live.set(info.id, info);
    } catch {
      this.#log.error('ignoring a replica announcement that is not JSON');
    }
  }

  #onWatch(res: IWatchResponse): void {
    for (const event of res.events) {
      if (event.type === 'Put') this.#remember(event.kv.value.toString('utf8'));
      else this.#live.delete(event.kv.key.toString('utf8').slice(`${this.#config.prefix}/replicas/`.length));
    }
  }
}
