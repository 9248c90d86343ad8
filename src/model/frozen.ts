// Deep freezing for snapshots: objects and arrays frozen, maps replaced by maps that refuse writes.

/** A Map that cannot be changed after construction (writes throw; a snapshot is immutable). */
export class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    Object.freeze(this);
  }

  override set(): this {
    throw new TypeError('a mesh snapshot is immutable');
  }

  override delete(): boolean {
    throw new TypeError('a mesh snapshot is immutable');
  }

  override clear(): void {
    throw new TypeError('a mesh snapshot is immutable');
  }
}

/** Freezes `value` and everything reachable from it through plain objects, arrays and maps' values. */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const entry of value.values()) deepFreeze(entry, seen);
    return value;
  }
  for (const entry of Object.values(value)) deepFreeze(entry, seen);
  Object.freeze(value);
  return value;
}
