// Watch fan-out for a store: keeps recent committed batches and delivers them to watchers in revision order.

import { RevisionCompactedError } from '../../errors.ts';
import { logger } from '../../observe/log.ts';
import type { ListOptions, StoreEvent } from './store.ts';

export interface WatchHubConfig {
  /** Committed batches kept for watchers that start from an older revision. */
  historyLimit: number;
}

type Listener = (events: StoreEvent[]) => void;

interface Watcher {
  listener: Listener;
  filter: ListOptions;
}

interface Batch {
  revision: number;
  events: StoreEvent[];
}

function matches(event: StoreEvent, filter: ListOptions): boolean {
  const { kind, metadata } = event.resource;
  return (
    (filter.kind === undefined || filter.kind === kind) &&
    (filter.namespace === undefined || filter.namespace === metadata.namespace)
  );
}

/**
 * Every store implementation feeds its committed batches here, one call per revision, in
 * order; watchers get each batch (filtered, skipped when nothing matches) synchronously.
 */
export class WatchHub {
  readonly #config: WatchHubConfig;
  readonly #history: Batch[] = [];
  /** History is complete for every revision above this one. */
  #complete: number;
  readonly #watchers = new Set<Watcher>();
  readonly #log = logger({ component: 'store-watch' });

  /** `revision` is the store's revision when the hub starts (history is empty then). */
  constructor(config: WatchHubConfig, revision: number) {
    this.#config = config;
    this.#complete = revision;
  }

  /** Records one committed batch and hands it to the watchers. */
  publish(revision: number, events: StoreEvent[]): void {
    this.#history.push({ revision, events });
    while (this.#history.length > this.#config.historyLimit) this.#complete = this.#history.shift()!.revision;
    for (const watcher of [...this.#watchers]) this.#deliver(watcher, events);
  }

  /**
   * Starts a watch. Batches after `fromRevision` that are still in history are delivered before
   * this returns; a `fromRevision` older than the history throws RevisionCompactedError.
   */
  watch(listener: Listener, options: ListOptions & { fromRevision?: number } = {}): () => void {
    const { fromRevision, ...filter } = options;
    const watcher: Watcher = { listener, filter };
    if (fromRevision !== undefined) {
      if (fromRevision < this.#complete)
        throw new RevisionCompactedError(
          `revision ${fromRevision} is older than the store's history (it starts after ${this.#complete}): list again and watch from the listed revision`,
        );
      for (const batch of this.#history)
        if (batch.revision > fromRevision) this.#deliver(watcher, batch.events);
    }
    this.#watchers.add(watcher);
    return () => {
      this.#watchers.delete(watcher);
    };
  }

  /** Stops every watch. */
  clear(): void {
    this.#watchers.clear();
  }

  #deliver(watcher: Watcher, events: StoreEvent[]): void {
    const selected = events.filter((event) => matches(event, watcher.filter));
    if (selected.length === 0) return;
    try {
      watcher.listener(selected);
    } catch (err) {
      this.#log.error({ err }, 'store watcher threw; the store carries on');
    }
  }
}
