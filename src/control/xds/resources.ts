// Generated xDS resources for one snapshot: generated once per generator-part key, encoded once, hashed for versions.
import { createHash } from 'node:crypto';
import type { MeshSnapshot } from '../../model/types.ts';
import { encodeDiscoveryResponse, type WireAny } from '../../xds/discovery.ts';
import { encodeResource } from '../../xds/protos.ts';
import { GENERATOR_PARTS, type GeneratorPart, type Warn } from './generate/index.ts';
import type { ProxyNode } from './node.ts';

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

/** The order-independent key of a subscription's names (`=` + sorted names), for sharing named sets between clients. */
export function namesKey(names: Iterable<string>): string {
  return `=${[...names].sort().join('\n')}`;
}

/**
 * Every resource generated from one snapshot, shared by all streams until the next snapshot.
 * Each generator part runs once per distinct part key (docs: GeneratorPart), each resource is
 * encoded once, and each distinct set (and its encoded response body) is built once.
 */
export class SnapshotResources {
  readonly snapshot: MeshSnapshot;
  readonly #warn: Warn;
  /** Part keys per proxy object and type. */
  readonly #keys = new WeakMap<ProxyNode, Map<string, string[]>>();
  /** `type#part#key` → everything that part generates for that key. */
  readonly #partAll = new Map<string, Map<string, EncodedResource>>();
  /** `type#part#key#name` → that resource, or null when the part does not generate it. */
  readonly #partNamed = new Map<string, EncodedResource | null>();
  /** `type#keys` → names key (`*` for wildcard) → the set. Two levels so the long names key keeps its cached hash. */
  readonly #sets = new Map<string, Map<string, ResourceSet>>();
  /** Encoded state-of-the-world response bodies (without nonce), by type, version and content. */
  readonly #bodies = new Map<string, Buffer>();

  constructor(snapshot: MeshSnapshot, warn: Warn) {
    this.snapshot = snapshot;
    this.#warn = warn;
  }

  #partKeys(proxy: ProxyNode, typeUrl: string, parts: readonly GeneratorPart[]): string[] {
    let byType = this.#keys.get(proxy);
    if (!byType) {
      byType = new Map();
      this.#keys.set(proxy, byType);
    }
    let keys = byType.get(typeUrl);
    if (!keys) {
      keys = parts.map((part) => part.key(proxy, this.snapshot));
      byType.set(typeUrl, keys);
    }
    return keys;
  }

  /**
   * The resources of a type for a proxy: everything it should have (`names` undefined, a
   * wildcard subscription) or those of `names` that exist. `key` is `namesKey(names)`.
   */
  resourceSet(proxy: ProxyNode, typeUrl: string, names?: ReadonlySet<string>, key?: string): ResourceSet {
    const parts = GENERATOR_PARTS.get(typeUrl) ?? [];
    const keys = this.#partKeys(proxy, typeUrl, parts);
    const partsKey = `${typeUrl}#${keys.join('#')}`;
    const subscription = names ? (key ?? namesKey(names)) : '*';
    let sets = this.#sets.get(partsKey);
    if (!sets) {
      sets = new Map();
      this.#sets.set(partsKey, sets);
    }
    let set = sets.get(subscription);
    if (set) return set;
    const resources = new Map<string, EncodedResource>();
    parts.forEach((part, i) => {
      const partId = `${typeUrl}#${i}#${keys[i]}`;
      const ctx = { snapshot: this.snapshot, proxy, warn: this.#warn };
      if (!names) {
        let all = this.#partAll.get(partId);
        if (!all) {
          all = new Map(
            part.generate(ctx, undefined).map((r) => [r.name, encode(typeUrl, r.name, r.resource)]),
          );
          this.#partAll.set(partId, all);
        }
        for (const [name, r] of all) resources.set(name, r);
        return;
      }
      for (const name of names) {
        const id = `${partId}#${name}`;
        let entry = this.#partNamed.get(id);
        if (entry === undefined) {
          const generated = part.generate(ctx, [name]).find((r) => r.name === name);
          entry = generated ? encode(typeUrl, name, generated.resource) : null;
          this.#partNamed.set(id, entry);
        }
        if (entry) resources.set(name, entry);
      }
    });
    set = { resources, version: setVersion(resources) };
    sets.set(subscription, set);
    return set;
  }

  /** The encoded response (all but its nonce) sending `sent` of a set; shared by clients sent the same. */
  responseBody(typeUrl: string, set: ResourceSet, sent: readonly EncodedResource[]): Buffer {
    const which = sent.length === set.resources.size ? '*' : sent.map((r) => r.name).join('\n');
    const key = `${typeUrl}#${set.version}#${which}`;
    let body = this.#bodies.get(key);
    if (!body) {
      body = encodeDiscoveryResponse({
        version_info: set.version,
        resources: sent.map((r) => r.any),
        type_url: typeUrl,
      });
      this.#bodies.set(key, body);
    }
    return body;
  }
}
