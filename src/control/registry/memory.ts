// The in-memory workload registry: proxies join and leave; a leave takes effect after a grace period.
import { isDeepStrictEqual } from 'node:util';
import type { Workload } from '../../model/types.ts';
import { logger } from '../../observe/log.ts';
import type { WorkloadRegistry } from './registry.ts';

export interface MemoryRegistryConfig {
  /** How long a workload stays registered after `leave` (milliseconds, default 10 000); a re-join within it cancels the removal. */
  graceMs?: number;
}

/** The default grace period, long enough for a proxy to reconnect after a control-plane restart. */
export const DEFAULT_GRACE_MS = 10_000;

/** Live workloads keyed by uid, with pending removals on timers. */
export class MemoryRegistry implements WorkloadRegistry {
  readonly #graceMs: number;
  readonly #workloads = new Map<string, Workload>();
  readonly #removals = new Map<string, NodeJS.Timeout>();
  readonly #listeners = new Set<() => void>();
  readonly #log = logger({ component: 'registry' });
  #sorted: readonly Workload[] | undefined;
  #notifying = false;
  #pending = false;

  constructor(config: MemoryRegistryConfig = {}) {
    this.#graceMs = config.graceMs ?? DEFAULT_GRACE_MS;
  }

  join(workload: Workload): void {
    const removal = this.#removals.get(workload.uid);
    if (removal) {
      clearTimeout(removal);
      this.#removals.delete(workload.uid);
      this.#log.debug({ uid: workload.uid }, 'workload re-joined within its grace period');
    }
    const known = this.#workloads.get(workload.uid);
    if (known && isDeepStrictEqual(known, workload)) return;
    this.#workloads.set(workload.uid, workload);
    this.#log.info(
      { uid: workload.uid, address: workload.address },
      known ? 'workload updated' : 'workload joined',
    );
    this.#changed();
  }

  leave(uid: string): void {
    if (!this.#workloads.has(uid) || this.#removals.has(uid)) return;
    const timer = setTimeout(() => {
      this.#removals.delete(uid);
      this.#workloads.delete(uid);
      this.#log.info({ uid }, 'workload removed after its grace period');
      this.#changed();
    }, this.#graceMs);
    timer.unref();
    this.#removals.set(uid, timer);
    this.#log.debug({ uid, graceMs: this.#graceMs }, 'workload left; removal scheduled');
  }

  /** Workloads sorted by uid (those in their grace period included). */
  list(): readonly Workload[] {
    this.#sorted ??= [...this.#workloads.values()].sort((a, b) =>
      a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0,
    );
    return this.#sorted;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    for (const timer of this.#removals.values()) clearTimeout(timer);
    this.#removals.clear();
    this.#listeners.clear();
  }

  /** Tells listeners; a change made by a listener is reported after the current round, not inside it. */
  #changed(): void {
    this.#sorted = undefined;
    if (this.#notifying) {
      this.#pending = true;
      return;
    }
    this.#notifying = true;
    try {
      do {
        this.#pending = false;
        for (const listener of [...this.#listeners]) {
          try {
            listener();
          } catch (err) {
            this.#log.error({ err }, 'registry listener threw');
          }
        }
      } while (this.#pending);
    } finally {
      this.#notifying = false;
    }
  }
}
