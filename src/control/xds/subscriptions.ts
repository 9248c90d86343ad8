// Named state-of-the-world subscriptions shared by every stream that sent the same encoded name list.
import { hash } from 'node:crypto';
import { namesKey } from './resources.ts';

/** The names of one subscription request, as every stream that sent the same bytes holds them. */
export interface Subscription {
  /** The names, `*` excluded. Shared: never modified. */
  readonly names: Set<string>;
  /** The request named `*`. */
  readonly star: boolean;
  /** `namesKey(names)`. */
  readonly key: string;
  /** The encoded `resource_names` entries (a copy owned here); undefined for no names. */
  readonly bytes: Buffer | undefined;
}

const NONE: Subscription = { names: new Set(), star: false, key: namesKey([]), bytes: undefined };

/**
 * Thousands of sidecars subscribe to the same EDS names (every cluster of their scope): one
 * Set, one key and one copy of the bytes serve them all, instead of ~200 KiB per stream at
 * 1,000 names. An entry lives while a watch holds it (weakly referenced here).
 */
export class SubscriptionTable {
  readonly #byDigest = new Map<string, WeakRef<Subscription>>();
  readonly #forget = new FinalizationRegistry<string>((digest) => {
    if (!this.#byDigest.get(digest)?.deref()) this.#byDigest.delete(digest);
  });

  /** The subscription of a request's `resource_names_bytes`; `names` decodes them (called only for a new list). */
  of(bytes: Buffer | undefined, names: () => readonly string[]): Subscription {
    if (bytes === undefined || bytes.length === 0) return NONE;
    const digest = hash('sha256', bytes, 'base64url');
    let subscription = this.#byDigest.get(digest)?.deref();
    if (!subscription) {
      const list = names();
      const set = new Set(list.filter((name) => name !== '*'));
      subscription = { names: set, star: list.includes('*'), key: namesKey(set), bytes: Buffer.from(bytes) };
      this.#byDigest.set(digest, new WeakRef(subscription));
      this.#forget.register(subscription, digest);
    }
    return subscription;
  }

  /** Distinct subscriptions alive (tests). */
  get size(): number {
    return this.#byDigest.size;
  }
}
