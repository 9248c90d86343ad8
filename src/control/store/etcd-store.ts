// The etcd Store: resources and revisions in an etcd cluster shared by control-plane replicas, cached and watched.
//
// Keys under the prefix P: `P/config/revision` (weft's revision counter), `P/config/r/KIND/NS/NAME`
// (a stamped resource, JSON) and `P/history/KIND/NS/NAME/REV` (every put or delete, for
// `weft history`). A commit is one etcd transaction guarded by the revision counter, so replicas
// commit in one order; every replica, the committing one included, applies commits from its watch.
import { isDeepStrictEqual } from 'node:util';
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import type { Resource, ResourceKey } from '../../config/resource.ts';
import { resourceKeyString } from '../../config/resource.ts';
import { NotFoundError, RequestTooLargeError, StoreUnavailableError } from '../../errors.ts';
import { logger } from '../../observe/log.ts';
import { ResyncWatch } from '../ha/resync-watch.ts';
import { deepFreeze, stampResource } from './stamp.ts';
import type { HistoryEntry, HistoryStore, ListOptions, StoreEvent, StoreOp } from './store.ts';
import { listResources } from './store.ts';
import { WatchHub } from './watch-hub.ts';

export interface EtcdStoreConfig {
  client: Etcd3;
  /** Key prefix (e.g. `/weft`). */
  prefix: string;
  /** Committed batches kept in memory for watches from an older revision (default 1000). */
  historyLimit?: number;
  /** Longest a commit waits for its own change to come back on the watch (ms, default 10 000). */
  commitTimeoutMs?: number;
}

/** Attempts of a commit that lost the race to another replica's commit. */
const COMMIT_ATTEMPTS = 8;

export function revisionKey(revision: number): string {
  return String(revision).padStart(12, '0');
}

/**
 * etcd refuses a transaction above `--max-txn-ops` (default 128) operations or `--max-request-bytes`
 * (default 1.5 MiB): one apply is one transaction of 2 operations per resource plus 1.
 */
function commitError(err: Error, resources: number): Error {
  if (/too many operations in txn request|request is too large/.test(err.message))
    return new RequestTooLargeError(
      `etcd refused an apply of ${resources} resources in one transaction (${err.message}): apply fewer at a time, or raise etcd's --max-txn-ops (each resource takes 2) and --max-request-bytes`,
    );
  return new StoreUnavailableError(`etcd did not take the commit: ${err.message}`, err);
}

/** The etcd-backed Store (see the file comment for the key layout). */
export class EtcdStore implements HistoryStore {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #commitTimeoutMs: number;
  readonly #resources = new Map<string, Resource>();
  readonly #waiters = new Set<{ revision: number; resolve: () => void }>();
  readonly #log = logger({ component: 'store' });
  #hub!: WatchHub;
  #watch: ResyncWatch | undefined;
  #revision = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(config: EtcdStoreConfig) {
    this.#client = config.client;
    this.#prefix = config.prefix;
    this.#commitTimeoutMs = config.commitTimeoutMs ?? 10_000;
  }

  /** Loads every resource at one etcd revision and watches from the next one. */
  static async open(config: EtcdStoreConfig): Promise<EtcdStore> {
    const store = new EtcdStore(config);
    try {
      store.#watch = await ResyncWatch.open({
        client: config.client,
        prefix: store.#configPrefix,
        what: 'store',
        log: store.#log,
        onSnapshot: (kvs) => store.#onSnapshot(kvs, config.historyLimit ?? 1000),
        onEvents: (res) => store.#onWatch(res),
      });
    } catch (err) {
      throw new StoreUnavailableError(`cannot read the store from etcd: ${(err as Error).message}`, err);
    }
    return store;
  }

  /**
   * Every resource etcd holds now: the first load, or a read again after etcd cancelled the watch
   * (it resumed from a compacted revision). Then what changed meanwhile is published as one commit
   * at the current revision (a watcher gets the net change, not each commit missed).
   */
  #onSnapshot(kvs: IKeyValue[], historyLimit: number): void {
    const before = new Map(this.#resources);
    this.#resources.clear();
    for (const kv of kvs) this.#load(kv);
    if (this.#hub === undefined) {
      this.#hub = new WatchHub({ historyLimit }, this.#revision);
      return;
    }
    const events: StoreEvent[] = [];
    for (const [key, resource] of this.#resources)
      if (!isDeepStrictEqual(before.get(key), resource))
        events.push({ type: 'put', resource, revision: this.#revision });
    for (const [key, resource] of before)
      if (!this.#resources.has(key)) events.push({ type: 'delete', resource, revision: this.#revision });
    if (events.length > 0) this.#hub.publish(this.#revision, events);
    this.#wake();
  }

  get #configPrefix(): string {
    return `${this.#prefix}/config/`;
  }

  get #revisionKey(): string {
    return `${this.#prefix}/config/revision`;
  }

  #resourceKey(key: string): string {
    return `${this.#prefix}/config/r/${key}`;
  }

  #historyKey(key: string, revision: number): string {
    return `${this.#prefix}/history/${key}/${revisionKey(revision)}`;
  }

  revision(): number {
    return this.#revision;
  }

  get(key: ResourceKey): Resource | undefined {
    return this.#resources.get(resourceKeyString(key));
  }

  list(options: ListOptions = {}): Resource[] {
    return listResources(this.#resources.values(), options);
  }

  watch(
    listener: (events: StoreEvent[]) => void,
    options?: ListOptions & { fromRevision?: number },
  ): () => void {
    return this.#hub.watch(listener, options);
  }

  commit(ops: StoreOp[]): Promise<{ revision: number; results: StoreEvent[] }> {
    const run = this.#queue.then(() => this.#commitNow(ops));
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Every put and delete of one resource still kept in etcd, oldest first. */
  async history(key: ResourceKey): Promise<HistoryEntry[]> {
    const prefix = `${this.#prefix}/history/${resourceKeyString(key)}/`;
    const kvs = await this.#client.getAll().prefix(prefix).sort('Key', 'Ascend').exec();
    return kvs.kvs.map((kv) => JSON.parse(kv.value.toString('utf8')) as HistoryEntry);
  }

  /** Leader work: keeps the newest `keep` history entries of every resource, deletes older ones. */
  async pruneHistory(keep: number): Promise<void> {
    const keys = await this.#client.getAll().prefix(`${this.#prefix}/history/`).keys();
    const byResource = new Map<string, string[]>();
    for (const key of keys) {
      const resource = key.slice(0, key.lastIndexOf('/'));
      const list = byResource.get(resource) ?? [];
      list.push(key);
      byResource.set(resource, list);
    }
    for (const list of byResource.values()) {
      if (list.length <= keep) continue;
      list.sort();
      const cut = list[list.length - keep - 1];
      await this.#client.delete().inRange({ start: list[0], end: `${cut}\0` });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.clear();
    await this.#watch?.close();
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters.clear();
  }

  async #commitNow(ops: StoreOp[]): Promise<{ revision: number; results: StoreEvent[] }> {
    if (this.#closed) throw new Error('the store is closed');
    if (ops.length === 0) return { revision: this.#revision, results: [] };
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const base = this.#revision;
      const revision = base + 1;
      const { results, txnOps } = this.#stage(ops, revision);
      let succeeded: boolean;
      try {
        const guard =
          base === 0
            ? this.#client.if(this.#revisionKey, 'Version', '==', 0)
            : this.#client.if(this.#revisionKey, 'Value', '==', String(base));
        const response = await guard
          .then(this.#client.put(this.#revisionKey).value(String(revision)), ...txnOps)
          .commit();
        succeeded = response.succeeded;
      } catch (err) {
        throw commitError(err as Error, ops.length);
      }
      // Ours or another replica's commit took `revision`; either way, wait until the watch applied it.
      await this.#caughtUp(revision);
      if (succeeded) return { revision, results };
      this.#log.debug({ revision }, 'another replica committed first; staging again');
    }
    throw new StoreUnavailableError(`the commit lost ${COMMIT_ATTEMPTS} races with other replicas' commits`);
  }

  /** Stamps the batch over the cached state, as the file store does; a missing delete rejects it. */
  #stage(ops: StoreOp[], revision: number) {
    const now = new Date();
    const overlay = new Map<string, Resource | null>();
    const current = (key: string): Resource | undefined => {
      const staged = overlay.get(key);
      return staged === null ? undefined : (staged ?? this.#resources.get(key));
    };
    const results: StoreEvent[] = [];
    const txnOps = [];
    const missing: string[] = [];
    for (const op of ops) {
      if (op.type === 'put') {
        const key = resourceKeyString({
          kind: op.resource.kind,
          namespace: op.resource.metadata.namespace,
          name: op.resource.metadata.name,
        });
        const stored = stampResource(op.resource, current(key), revision, now);
        overlay.set(key, stored);
        results.push({ type: 'put', resource: stored, revision });
        const entry: HistoryEntry = { revision, type: 'put', resource: stored, at: now.toISOString() };
        txnOps.push(this.#client.put(this.#resourceKey(key)).value(JSON.stringify(stored)));
        txnOps.push(this.#client.put(this.#historyKey(key, revision)).value(JSON.stringify(entry)));
      } else {
        const key = resourceKeyString(op.key);
        const last = current(key);
        if (last === undefined) {
          missing.push(key);
          continue;
        }
        overlay.set(key, null);
        results.push({ type: 'delete', resource: last, revision });
        const entry: HistoryEntry = { revision, type: 'delete', resource: last, at: now.toISOString() };
        txnOps.push(this.#client.delete().key(this.#resourceKey(key)));
        txnOps.push(this.#client.put(this.#historyKey(key, revision)).value(JSON.stringify(entry)));
      }
    }
    if (missing.length > 0) throw new NotFoundError(`not found, nothing changed: ${missing.join(', ')}`);
    return { results, txnOps };
  }

  #caughtUp(revision: number): Promise<void> {
    if (this.#revision >= revision || this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new StoreUnavailableError(
            `revision ${revision} did not arrive on the etcd watch within ${this.#commitTimeoutMs} ms`,
          ),
        );
      }, this.#commitTimeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #load(kv: IKeyValue): void {
    const key = kv.key.toString('utf8');
    if (key === this.#revisionKey) {
      this.#revision = Math.max(this.#revision, Number(kv.value.toString('utf8')));
      return;
    }
    const resource = this.#parse(kv);
    if (resource) this.#resources.set(key.slice(this.#resourceKey('').length), resource);
  }

  #parse(kv: IKeyValue): Resource | undefined {
    try {
      return deepFreeze(JSON.parse(kv.value.toString('utf8')) as Resource);
    } catch (err) {
      this.#log.error({ err, key: kv.key.toString('utf8') }, 'ignoring an etcd value that is not JSON');
      return undefined;
    }
  }

  /** Applies watched changes, one weft commit per etcd revision, and publishes them in order. */
  #onWatch(res: IWatchResponse): void {
    if (this.#closed) return;
    const byRevision = new Map<string, IWatchResponse['events']>();
    for (const event of res.events) {
      const group = byRevision.get(event.kv.mod_revision) ?? [];
      group.push(event);
      byRevision.set(event.kv.mod_revision, group);
    }
    for (const group of byRevision.values()) {
      const counter = group.find((e) => e.kv.key.toString('utf8') === this.#revisionKey);
      const revision = counter ? Number(counter.kv.value.toString('utf8')) : this.#revision;
      const events: StoreEvent[] = [];
      const resourcePrefix = this.#resourceKey('');
      for (const event of group) {
        const etcdKey = event.kv.key.toString('utf8');
        if (!etcdKey.startsWith(resourcePrefix)) continue;
        const key = etcdKey.slice(resourcePrefix.length);
        if (event.type === 'Put') {
          const resource = this.#parse(event.kv);
          if (!resource) continue;
          this.#resources.set(key, resource);
          events.push({ type: 'put', resource, revision });
        } else {
          const last = this.#resources.get(key);
          this.#resources.delete(key);
          if (last) events.push({ type: 'delete', resource: last, revision });
        }
      }
      this.#revision = Math.max(this.#revision, revision);
      if (events.length > 0) this.#hub.publish(revision, events);
    }
    this.#wake();
  }

  /** Resolves the commits waiting for a revision the store reached. */
  #wake(): void {
    for (const waiter of [...this.#waiters])
      if (waiter.revision <= this.#revision) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
  }
}
