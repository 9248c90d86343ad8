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

/**
 * Everything deepFreeze has frozen, so a snapshot that shares parts with the previous one (compiled
 * resources, workloads, services) freezes only what is new. Maps met here are FrozenMaps.
 */
const deeplyFrozen = new WeakSet<object>();

/** Freezes `value` and everything reachable from it through plain objects, arrays and maps' values. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || deeplyFrozen.has(value)) return value;
  deeplyFrozen.add(value);
  if (value instanceof Map) {
    for (const entry of value.values()) deepFreeze(entry);
    return value;
  }
  for (const entry of Object.values(value)) deepFreeze(entry);
  Object.freeze(value);
  return value;
}
