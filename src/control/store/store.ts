// The resource store interface: durable, versioned, watchable; embedded (files) or etcd behind it.
import type { Resource, ResourceKey } from '../../config/resource.ts';

/** One change seen by a watcher. `resource` is the new value (put) or the last value (delete). */
export interface StoreEvent {
  type: 'put' | 'delete';
  resource: Resource;
  /** Store revision at which this change happened. */
  revision: number;
}

/** One past write of a resource (`weft history`): the resource as stored by that put, or its last value before a delete. */
export interface HistoryEntry {
  revision: number;
  type: 'put' | 'delete';
  resource: Resource;
  /** When the write was committed (RFC 3339). */
  at: string;
}

/** A store that also keeps the past writes of each resource (both stores do, behind `--store`). */
export interface HistoryStore extends Store {
  /** Past writes of `key`, oldest first (the newest ones; older ones are pruned). */
  history(key: ResourceKey): Promise<HistoryEntry[]>;
}

/** A change to make in a transaction. */
export type StoreOp = { type: 'put'; resource: Resource } | { type: 'delete'; key: ResourceKey };

/** Filters for list and watch. Absent fields match everything. */
export interface ListOptions {
  kind?: string;
  namespace?: string;
}

export interface Store {
  /**
   * Applies every op atomically and durably (fsync'd before it resolves), assigning one new
   * revision to the whole batch; every put resource gets that revision as its
   * `metadata.resourceVersion`. Resolves to the stored resources (deletes give the last value).
   * A delete of a missing key rejects with NotFoundError and applies nothing.
   */
  commit(ops: StoreOp[]): Promise<{ revision: number; results: StoreEvent[] }>;
  get(key: ResourceKey): Resource | undefined;
  list(options?: ListOptions): Resource[];
  /** Highest revision committed so far (0 for an empty store). */
  revision(): number;
  /**
   * Calls `listener` for every change after `fromRevision` (default: now), in revision order,
   * one call per committed batch. Returns a function that stops the watch.
   */
  watch(
    listener: (events: StoreEvent[]) => void,
    options?: ListOptions & { fromRevision?: number },
  ): () => void;
  close(): Promise<void>;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The resources that match `options`, ordered by kind, namespace, name (every store lists so). */
export function listResources(resources: Iterable<Resource>, options: ListOptions = {}): Resource[] {
  const out: Resource[] = [];
  for (const resource of resources) {
    if (options.kind !== undefined && resource.kind !== options.kind) continue;
    if (options.namespace !== undefined && resource.metadata.namespace !== options.namespace) continue;
    out.push(resource);
  }
  return out.sort(
    (a, b) =>
      compare(a.kind, b.kind) ||
      compare(a.metadata.namespace, b.metadata.namespace) ||
      compare(a.metadata.name, b.metadata.name),
  );
}
