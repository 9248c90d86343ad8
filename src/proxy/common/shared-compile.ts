// Compiled xDS resources, and their bytes, shared by the proxy cores of one process (a node agent's workloads) when they received the same bytes.
//
// Every workload of a namespace gets the same outbound RouteConfiguration; compiled, it is ~60 KB of
// heap in a mesh of 21 services and grows with the mesh. A compilation is shared only when it cannot
// hold state of one core: it read no compile scope (compile-scope.ts: counters, token buckets) and
// the caller says the result is shareable. Entries go when no core uses the result any more.
import { createHash } from 'node:crypto';
import { compileScopeReads } from './compile-scope.ts';

interface Entry {
  /** The bytes compiled (compared, not only hashed: a hash collision must not share a config). */
  bytes: Uint8Array;
  value: WeakRef<object>;
}

const entries = new Map<string, Entry>();
const gone = new FinalizationRegistry<string>((key) => {
  if (entries.get(key)?.value.deref() === undefined) entries.delete(key);
});

/** Copies of resource bytes by hash, for `sharedCopy`. */
const copies = new Map<string, WeakRef<Uint8Array>>();
const copyGone = new FinalizationRegistry<string>((key) => {
  if (copies.get(key)?.deref() === undefined) copies.delete(key);
});

function hashOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * A copy of `encoded` in an ArrayBuffer of its own (a view would keep the whole response it came in
 * alive), the same copy for every caller with the same bytes while one keeps it: the workloads of a
 * node agent keep mostly the same resources for /config_dump.
 */
export function sharedCopy(encoded: Uint8Array): Uint8Array {
  const key = hashOf(encoded);
  const hit = copies.get(key)?.deref();
  if (hit && sameBytes(hit, encoded)) return hit;
  const copy = new Uint8Array(encoded);
  copies.set(key, new WeakRef(copy));
  copyGone.register(copy, key);
  return copy;
}

/**
 * The compiled form of `encoded` (a resource of type `typeUrl`): one another core compiled from the
 * same bytes, or `compile()`'s result, shared from now on if compiling it read no compile scope and
 * `shareable` accepts it. Without bytes (a resource not from the wire), compiles.
 */
export function compileShared<T extends object>(
  typeUrl: string,
  encoded: Uint8Array | undefined,
  compile: () => T,
  shareable: (value: T) => boolean,
): T {
  if (!encoded) return compile();
  const key = `${typeUrl} ${createHash('sha256').update(encoded).digest('base64')}`;
  const hit = entries.get(key);
  const value = hit?.value.deref();
  if (
    hit &&
    value &&
    Buffer.from(hit.bytes.buffer, hit.bytes.byteOffset, hit.bytes.byteLength).equals(encoded)
  )
    return value as T;
  const readsBefore = compileScopeReads();
  const compiled = compile();
  if (compileScopeReads() === readsBefore && shareable(compiled)) {
    entries.set(key, { bytes: sharedCopy(encoded), value: new WeakRef(compiled) });
    gone.register(compiled, key);
  }
  return compiled;
}

/** How many compiled resources are shared now (for tests). */
export function sharedCompiledCount(): number {
  return entries.size;
}
