// Generated xDS resources for one snapshot: generated once per proxy shape, encoded once, hashed for versions.
import { createHash } from 'node:crypto';
import type { MeshSnapshot } from '../../model/types.ts';
import type { GenerateContext, Warn } from './generate/index.ts';
import { GENERATORS } from './generate/index.ts';
import { type ProxyNode, shapeKey } from './node.ts';
import { encodeResource, type WireAny } from './protos.ts';
import { TYPE_URL } from './types.ts';

/** One resource ready for the wire: its bytes (as an Any) and a hash of them (its version). */
export interface EncodedResource {
  name: string;
  /** Hash of the encoded bytes; the resource's version in the incremental protocol. */
  hash: string;
  any: WireAny;
}

/** A set of resources of one type with the version string that names it. */
export interface ResourceSet {
  resources: ReadonlyMap<string, EncodedResource>;
  version: string;
}

function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/** The state-of-the-world version of a set: a hash of its names and resource hashes (equal content, equal version). */
export function setVersion(resources: ReadonlyMap<string, EncodedResource>): string {
  const hash = createHash('sha256');
  for (const name of [...resources.keys()].sort()) {
    hash.update(name).update('\0').update(resources.get(name)!.hash).update('\n');
  }
  return hash.digest('base64url').slice(0, 16);
}

function encode(typeUrl: string, name: string, resource: Record<string, unknown>): EncodedResource {
  const value = encodeResource(typeUrl, resource);
  return { name, hash: hashBytes(value), any: { type_url: typeUrl, value } };
}

/** Cached output for one proxy shape (all proxies with the same shape key share it). */
export class ShapeResources {
  readonly #ctx: GenerateContext;
  readonly #snapshotResources: SnapshotResources;
  readonly #wildcard = new Map<string, ResourceSet>();
  readonly #named = new Map<string, Map<string, EncodedResource | null>>();

  constructor(ctx: GenerateContext, snapshotResources: SnapshotResources) {
    this.#ctx = ctx;
    this.#snapshotResources = snapshotResources;
  }

  /** Everything of a type this proxy should have (wildcard subscription). */
  wildcard(typeUrl: string): ResourceSet {
    let set = this.#wildcard.get(typeUrl);
    if (!set) {
      const resources = new Map<string, EncodedResource>();
      for (const r of GENERATORS.get(typeUrl)?.(this.#ctx, undefined) ?? []) {
        resources.set(r.name, encode(typeUrl, r.name, r.resource));
      }
      set = { resources, version: setVersion(resources) };
      this.#wildcard.set(typeUrl, set);
    }
    return set;
  }

  /** The named resources of a type that exist (names that do not are left out). */
  named(typeUrl: string, names: Iterable<string>): Map<string, EncodedResource> {
    if (typeUrl === TYPE_URL.endpoint) return this.#snapshotResources.endpoints(this.#ctx, names);
    let cache = this.#named.get(typeUrl);
    if (!cache) {
      cache = new Map();
      this.#named.set(typeUrl, cache);
    }
    const out = new Map<string, EncodedResource>();
    const generator = GENERATORS.get(typeUrl);
    for (const name of names) {
      let entry = cache.get(name);
      if (entry === undefined) {
        const generated = generator?.(this.#ctx, [name]).find((r) => r.name === name);
        entry = generated ? encode(typeUrl, name, generated.resource) : null;
        cache.set(name, entry);
      }
      if (entry) out.set(name, entry);
    }
    return out;
  }
}

/** Every resource generated from one snapshot, shared by all streams until the next snapshot. */
export class SnapshotResources {
  readonly snapshot: MeshSnapshot;
  readonly #warn: Warn;
  readonly #shapes = new Map<string, ShapeResources>();
  /** Endpoint assignments do not depend on the proxy: one cache for all. */
  readonly #endpoints = new Map<string, EncodedResource | null>();

  constructor(snapshot: MeshSnapshot, warn: Warn) {
    this.snapshot = snapshot;
    this.#warn = warn;
  }

  forProxy(proxy: ProxyNode, key: string = shapeKey(proxy)): ShapeResources {
    let shape = this.#shapes.get(key);
    if (!shape) {
      shape = new ShapeResources({ snapshot: this.snapshot, proxy, warn: this.#warn }, this);
      this.#shapes.set(key, shape);
    }
    return shape;
  }

  endpoints(ctx: GenerateContext, names: Iterable<string>): Map<string, EncodedResource> {
    const out = new Map<string, EncodedResource>();
    const generator = GENERATORS.get(TYPE_URL.endpoint)!;
    for (const name of names) {
      let entry = this.#endpoints.get(name);
      if (entry === undefined) {
        const generated = generator(ctx, [name]).find((r) => r.name === name);
        entry = generated ? encode(TYPE_URL.endpoint, name, generated.resource) : null;
        this.#endpoints.set(name, entry);
      }
      if (entry) out.set(name, entry);
    }
    return out;
  }
}
