// The workload registry shared by control-plane replicas: each registration is an etcd key owned by the replica that serves its proxy.
//
// `P/registry/<uid>` holds `{replica, workload}`. A replica puts the key when a proxy's stream
// joins (taking it over from the previous owner after a reconnect) and deletes it one grace
// period after the last stream left, unless another replica took it meanwhile. Registrations of
// a replica that died are removed by the leader once their owner has shown no sign of life (no
// announcement, no write) for a replica timeout plus a grace period (`pruneOrphans`); one deleted
// while its replica still serves the proxy is put back by that replica, and one naming a replica
// that does not serve the proxy (a put that landed after its leave) is deleted by that replica.
// Every replica watches the prefix, so all of them push the same endpoints.
import { isDeepStrictEqual } from 'node:util';
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import type { Workload } from '../../model/types.ts';
import { logger } from '../../observe/log.ts';
import type { WorkloadRegistry } from '../registry/registry.ts';
import { ResyncWatch } from './resync-watch.ts';

export interface EtcdRegistryConfig {
  client: Etcd3;
  prefix: string;
  /** This replica's id (the owner written into its registrations). */
  replicaId: string;
  /** How long a registration outlives its last stream (`--registry-grace`, ms). */
  graceMs: number;
  /**
   * How long the leader waits for a replica that is neither announced nor writing before it
   * prunes its registrations, on top of `graceMs` (the lease TTL: a replica whose lease lapsed
   * under load, or one still starting, gets that long to announce itself). Default 0.
   */
  replicaTimeoutMs?: number;
}

interface Registration {
  replica: string;
  workload: Workload;
}

interface Seen extends Registration {
  /** etcd mod revision of the key, for compare-and-delete. */
  modRevision: string;
}

interface Local {
  workload: Workload;
  /** Mod revision of our last successful put (undefined until it succeeded). */
  modRevision?: string;
  /** The put in flight, if any (settles, never rejects). */
  putting?: Promise<void>;
  removal?: NodeJS.Timeout;
}

const RETRY_MS = 1000;

export class EtcdRegistry implements WorkloadRegistry {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #replicaId: string;
  readonly #graceMs: number;
  readonly #log = logger({ component: 'registry' });
  /** Registrations as etcd has them (any replica). */
  readonly #seen = new Map<string, Seen>();
  /** Workloads whose streams this replica serves (or served within the grace period). */
  readonly #local = new Map<string, Local>();
  readonly #listeners = new Set<() => void>();
  readonly #replicaTimeoutMs: number;
  /** Leader bookkeeping: each owner's last sign of life (announced, or a registration written), at a prune's clock. */
  readonly #ownerSeen = new Map<string, number>();
  /** Owners whose registrations were written since the last prune (a sign of life). */
  readonly #wroteSincePrune = new Set<string>();
  /** The leadership term of the last prune (`#ownerSeen` belongs to it). */
  #pruneTerm = '';
  readonly #unsynced = new Set<string>();
  #retry: NodeJS.Timeout | undefined;
  #watch: ResyncWatch | undefined;
  #sorted: readonly Workload[] | undefined;
  #closed = false;

  private constructor(config: EtcdRegistryConfig) {
    this.#client = config.client;
    this.#prefix = `${config.prefix}/registry/`;
    this.#replicaId = config.replicaId;
    this.#graceMs = config.graceMs;
    this.#replicaTimeoutMs = config.replicaTimeoutMs ?? 0;
  }

  /** Loads every registration and watches for changes; the registry is complete when this resolves. */
  static async open(config: EtcdRegistryConfig): Promise<EtcdRegistry> {
    const registry = new EtcdRegistry(config);
    registry.#watch = await ResyncWatch.open({
      client: config.client,
      prefix: registry.#prefix,
      what: 'registry',
      log: registry.#log,
      onSnapshot: (kvs) => registry.#onSnapshot(kvs),
      onEvents: (res) => registry.#onWatch(res),
    });
    return registry;
  }

  /** Every registration etcd holds now (first load, or again after a cancelled watch): those gone were deleted. */
  #onSnapshot(kvs: IKeyValue[]): void {
    let changed = false;
    const present = new Set<string>();
    for (const kv of kvs) {
      present.add(this.#uidOf(kv));
      if (this.#apply('Put', kv)) changed = true;
    }
    for (const uid of [...this.#seen.keys()]) if (!present.has(uid) && this.#deleted(uid)) changed = true;
    if (changed) this.#changed();
  }

  join(workload: Workload): void {
    const before = this.#effective(workload.uid);
    const local = this.#local.get(workload.uid);
    if (local?.removal) clearTimeout(local.removal);
    this.#local.set(workload.uid, { workload, modRevision: undefined });
    this.#put(workload.uid);
    if (this.#settle(workload.uid, before)) this.#changed();
  }

  leave(uid: string): void {
    const local = this.#local.get(uid);
    if (!local || local.removal) return;
    local.removal = setTimeout(() => this.#remove(uid), this.#graceMs);
    local.removal.unref();
  }

  list(): readonly Workload[] {
    if (!this.#sorted) {
      const all = new Map<string, Workload>();
      for (const [uid, seen] of this.#seen) all.set(uid, seen.workload);
      for (const [uid, local] of this.#local) all.set(uid, local.workload);
      this.#sorted = [...all.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    }
    return this.#sorted;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Leader work: deletes registrations whose owner showed no sign of life (among `liveReplicas`,
   * or writing a registration) for the replica timeout plus a grace period: its proxy never came
   * back to any replica. A replica that puts back what was pruned is alive, so a replica whose
   * lease lapsed is pruned once, not again at every round. `term` names the leadership these
   * rounds belong to: what an earlier term saw is stale (the replica that stalled may be the
   * leader this one replaced), so a new term starts counting afresh. Returns how many it deleted.
   */
  async pruneOrphans(liveReplicas: ReadonlySet<string>, now = Date.now(), term = ''): Promise<number> {
    if (term !== this.#pruneTerm) {
      this.#ownerSeen.clear();
      this.#pruneTerm = term;
    }
    for (const replica of liveReplicas) this.#ownerSeen.set(replica, now);
    for (const replica of this.#wroteSincePrune) this.#ownerSeen.set(replica, now);
    this.#wroteSincePrune.clear();
    const owners = new Set<string>();
    let pruned = 0;
    for (const [uid, seen] of this.#seen) {
      owners.add(seen.replica);
      const since = this.#ownerSeen.get(seen.replica);
      if (since === undefined) this.#ownerSeen.set(seen.replica, now);
      if (since === undefined || now - since < this.#replicaTimeoutMs + this.#graceMs) continue;
      if (await this.#deleteIf(uid, seen.modRevision)) {
        pruned++;
        this.#log.warn({ uid, owner: seen.replica }, 'removed a registration whose replica is gone');
      }
    }
    for (const replica of this.#ownerSeen.keys())
      if (!owners.has(replica) && !liveReplicas.has(replica)) this.#ownerSeen.delete(replica);
    return pruned;
  }

  /** Deletes a registration if etcd still holds the version seen; true when it did. */
  async #deleteIf(uid: string, modRevision: string): Promise<boolean> {
    const key = this.#key(uid);
    const result = await this.#client
      .if(key, 'Mod', '==', modRevision)
      .then(this.#client.delete().key(key))
      .commit();
    return result.succeeded;
  }

  /** Stops timers and the watch (resolves once etcd dropped it). Registrations stay: the proxies reconnect to another replica. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const local of this.#local.values()) if (local.removal) clearTimeout(local.removal);
    if (this.#retry) clearTimeout(this.#retry);
    this.#listeners.clear();
    await this.#watch?.close();
  }

  /** What list() shows for `uid`: this replica's own view first, then etcd's. */
  #effective(uid: string): Workload | undefined {
    return this.#local.get(uid)?.workload ?? this.#seen.get(uid)?.workload;
  }

  /** After a change to `uid`: refresh list() and tell listeners if what it shows for `uid` changed. */
  #settle(uid: string, before: Workload | undefined): boolean {
    this.#sorted = undefined;
    return !isDeepStrictEqual(before, this.#effective(uid));
  }

  #key(uid: string): string {
    return `${this.#prefix}${encodeURIComponent(uid)}`;
  }

  #put(uid: string): void {
    const local = this.#local.get(uid);
    if (!local || this.#closed) return;
    const value: Registration = { replica: this.#replicaId, workload: local.workload };
    const putting: Promise<void> = this.#client
      .put(this.#key(uid))
      .value(JSON.stringify(value))
      .exec()
      .then(
        // Only the latest put of the latest join counts (a restore can overlap an earlier put).
        (res) => {
          if (this.#local.get(uid) !== local || local.putting !== putting) return;
          local.modRevision = res.header.revision;
          this.#unsynced.delete(uid);
        },
        (err: Error) => {
          if (this.#local.get(uid) !== local || local.putting !== putting) return;
          this.#log.warn({ uid, err: err.message }, 'could not register a workload in etcd; retrying');
          this.#unsynced.add(uid);
          this.#retry ??= setTimeout(() => {
            this.#retry = undefined;
            for (const u of [...this.#unsynced]) this.#put(u);
          }, RETRY_MS);
        },
      );
    local.putting = putting;
  }

  /** The grace period after the last stream left ended: delete the key if it is still ours. */
  #remove(uid: string): void {
    const local = this.#local.get(uid);
    if (!local || this.#closed) return;
    // A put still in flight would land after a delete: let it finish, then compare against it.
    if (local.modRevision === undefined && local.putting && !this.#unsynced.has(uid)) {
      void local.putting.then(() => {
        if (this.#local.get(uid) === local) this.#remove(uid);
      });
      return;
    }
    this.#unsynced.delete(uid);
    const key = this.#key(uid);
    const done = (deleted: boolean) => {
      if (this.#local.get(uid) !== local) return; // re-joined meanwhile
      const before = this.#effective(uid);
      this.#local.delete(uid);
      // Without the delete (not ours any more, or etcd unreachable) what etcd holds stays listed.
      if (this.#settle(uid, before)) this.#changed();
      this.#log.info({ uid, deleted }, 'workload left its grace period');
    };
    if (local.modRevision === undefined) {
      done(false);
      return;
    }
    this.#client
      .if(key, 'Mod', '==', local.modRevision)
      .then(this.#client.delete().key(key))
      .commit()
      .then(
        (res) => done(res.succeeded),
        (err: Error) => {
          this.#log.warn({ uid, err: err.message }, 'could not delete a registration; the leader prunes it');
          done(false);
        },
      );
  }

  #uidOf(kv: IKeyValue): string {
    return decodeURIComponent(kv.key.toString('utf8').slice(this.#prefix.length));
  }

  /** A registration gone from etcd; true when list() changed. */
  #deleted(uid: string): boolean {
    const before = this.#effective(uid);
    const ours = this.#seen.get(uid)?.replica === this.#replicaId;
    this.#seen.delete(uid);
    // Deleted while it named another replica: that one took the proxy over and saw it leave.
    if (ours) this.#restore(uid);
    return this.#settle(uid, before);
  }

  #apply(type: 'Put' | 'Delete', kv: IKeyValue): boolean {
    const uid = this.#uidOf(kv);
    if (type === 'Delete') return this.#deleted(uid);
    const before = this.#effective(uid);
    let value: Registration;
    try {
      value = JSON.parse(kv.value.toString('utf8')) as Registration;
    } catch {
      this.#log.error({ uid }, 'ignoring a registration that is not JSON');
      return false;
    }
    this.#seen.set(uid, { ...value, modRevision: kv.mod_revision });
    this.#wroteSincePrune.add(value.replica);
    const local = this.#local.get(uid);
    if (!local && value.replica === this.#replicaId) this.#disown(uid, kv.mod_revision);
    // Another replica took over a workload we still hold in its grace period: it is theirs now.
    if (local?.removal && value.replica !== this.#replicaId) {
      clearTimeout(local.removal);
      this.#local.delete(uid);
    }
    return this.#settle(uid, before);
  }

  /**
   * A registration of a proxy this replica still serves was deleted by someone else: the leader
   * pruned it while this replica's announcement had lapsed (lease renewals late under load). Put
   * it back, or the other replicas drop a live endpoint and never see its later leave.
   */
  #restore(uid: string): void {
    const local = this.#local.get(uid);
    if (!local || local.removal || this.#closed) return;
    this.#log.warn({ uid }, 'a registration this replica serves was deleted from etcd; registering it again');
    local.modRevision = undefined;
    this.#put(uid);
  }

  /**
   * A registration naming this replica for a proxy it does not serve: a put that etcd applied
   * after this replica gave up on it (its leave came first, or the reply was lost). The leader
   * would never prune it (this replica is alive), so the endpoint would outlive its proxy.
   */
  #disown(uid: string, modRevision: string): void {
    if (this.#closed) return;
    this.#deleteIf(uid, modRevision).then(
      (deleted) => {
        if (deleted)
          this.#log.warn({ uid }, 'deleted a registration of a proxy this replica no longer serves');
      },
      (err: Error) => this.#log.warn({ uid, err: err.message }, 'could not delete a stale registration'),
    );
  }

  #onWatch(res: IWatchResponse): void {
    if (this.#closed) return;
    let changed = false;
    for (const event of res.events) if (this.#apply(event.type, event.kv)) changed = true;
    if (changed) this.#changed();
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (err) {
        this.#log.error({ err }, 'registry listener threw');
      }
    }
  }
}
