// Store-assigned metadata of a put resource: resourceVersion, creationTimestamp and generation.
import { isDeepStrictEqual } from 'node:util';
import type { Resource } from '../../config/resource.ts';

/** RFC 3339 in UTC with second precision, as Kubernetes writes `creationTimestamp`. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/**
 * The resource as the store keeps it: a private copy of `input` whose `resourceVersion` is the
 * commit's revision, whose `creationTimestamp` is kept from `existing` (or set to `now`), and
 * whose `generation` starts at 1 and goes up by one whenever `spec` changes.
 */
export function stampResource(
  input: Resource,
  existing: Resource | undefined,
  revision: number,
  now: Date,
): Resource {
  const copy = structuredClone(input);
  const previousGeneration = existing?.metadata.generation ?? 0;
  const specChanged = existing === undefined || !isDeepStrictEqual(existing.spec, input.spec);
  copy.metadata.resourceVersion = String(revision);
  copy.metadata.creationTimestamp = existing?.metadata.creationTimestamp ?? rfc3339(now);
  copy.metadata.generation = specChanged ? previousGeneration + 1 : previousGeneration;
  return deepFreeze(copy);
}

/** Freezes a plain JSON value in place, so values handed out by the store cannot be changed. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}
