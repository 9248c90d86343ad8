// Generated xDS resources for one snapshot: generated once per generator-part key, encoded once, hashed for versions.
import { createHash } from 'node:crypto';
import type { MeshSnapshot } from '../../model/types.ts';
import {
  encodeResourceField,
  joinDiscoveryResponse,
  nonceField,
  type WireAny,
  withNonce,
} from '../../xds/discovery.ts';
import { encodeResource } from '../../xds/protos.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import { parseClusterName } from './generate/common.ts';
import { FULL_STATE_TYPES, GENERATOR_PARTS, type GeneratorPart, type Warn } from './generate/index.ts';
import type { ProxyNode } from './node.ts';

/** One resource ready for the wire: its bytes (as an Any) and a hash of them (its version). */
export interface EncodedResource {
  name: string;
  /** Hash of the encoded bytes; the resource's version in the incremental protocol. */
  hash: string;
  any: WireAny;
  /** The Any as a DiscoveryResponse `resources` entry, encoded once for every response that carries it. */
  field: Buffer;
}

/** A set of resources of one type with the version string that names it. */
export interface ResourceSet {
  /** Names the content: equal content, equal version. */
  readonly version: string;
  /** Number of resources. */
  readonly size: number;
  /** Name → resource (a set joined from parts builds it on first use). */
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** The `resources` entries of a response carrying the whole set, as chunks to join. */
  readonly fields: readonly Buffer[];
}

/** A set of named resources (a named subscription, or one generator part's output). */
class NamedSet implements ResourceSet {
  readonly resources: ReadonlyMap<string, EncodedResource>;
  readonly version: string;
  #joined: Buffer | undefined;

  constructor(resources: ReadonlyMap<string, EncodedResource>) {
    this.resources = resources;
    this.version = setVersion(resources);
  }

  get size(): number {
    return this.resources.size;
  }

  get fields(): readonly Buffer[] {
    return [this.joined];
  }

  /** Every entry's field, joined once for all responses and sets that carry this one whole. */
  get joined(): Buffer {
    this.#joined ??= Buffer.concat([...this.resources.values()].map((r) => r.field));
    return this.#joined;
  }
}

/**
 * A wildcard set made of generator parts' outputs, shared by every proxy with the same part
 * keys: its version and its response are made from the parts', so the set costs O(parts) and no
 * proxy-specific copy of a large part (the mesh's clusters) is made.
 */
class JoinedSet implements ResourceSet {
  readonly version: string;
  readonly size: number;
  readonly #parts: readonly NamedSet[];
  #resources: Map<string, EncodedResource> | undefined;

  constructor(parts: readonly NamedSet[]) {
    this.#parts = parts;
    this.size = parts.reduce((sum, part) => sum + part.size, 0);
    this.version =
      parts.length === 1
        ? parts[0].version
        : createHash('sha256')
            .update(parts.map((part) => part.version).join('\n'))
            .digest('base64url')
            .slice(0, 16);
  }

  get resources(): ReadonlyMap<string, EncodedResource> {
    if (this.#parts.length === 1) return this.#parts[0].resources;
    if (!this.#resources) {
      this.#resources = new Map();
      for (const part of this.#parts) for (const [name, r] of part.resources) this.#resources.set(name, r);
    }
    return this.#resources;
  }

  get fields(): readonly Buffer[] {
    return this.#parts.map((part) => part.joined);
  }
}

/** An encoded DiscoveryResponse for a stream: its bytes end with the nonce field. */
export interface EncodedResponse {
  /** The response without its nonce (to give it another nonce). */
  body: Buffer;
  nonce: string;
  /** `body` followed by the nonce field: what is written. */
  bytes: Buffer;
}

function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/** The state-of-the-world version of a set: a hash of its names and resource hashes (equal content, equal version). */
export function setVersion(resources: ReadonlyMap<string, EncodedResource>): string {
  // One update of the whole text: thousands of small updates cost more in calls than in hashing.
  const text = [...resources.keys()]
    .sort()
    .map((name) => `${name}\0${resources.get(name)!.hash}\n`)
    .join('');
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

function encode(typeUrl: string, name: string, resource: Record<string, unknown>): EncodedResource {
  const value = encodeResource(typeUrl, resource);
  const any = { type_url: typeUrl, value };
  return { name, hash: hashBytes(value), any, field: encodeResourceField(any) };
}

/** The order-independent key of a subscription's names (`=` + sorted names), for sharing named sets between clients. */
export function namesKey(names: Iterable<string>): string {
  return `=${[...names].sort().join('\n')}`;
}

/** Everything generated for one type from one snapshot; shared with the next snapshot when that type is unchanged. */
interface TypeCache {
  /** Part keys per proxy object. */
  keys: WeakMap<ProxyNode, string[]>;
  /** `part#key` → everything that part generates for that key. */
  partAll: Map<string, NamedSet>;
  /** `part#key` → resource name → that resource, or null when the part does not generate it. */
  partNamed: Map<string, Map<string, EncodedResource | null>>;
  /** Part keys → names key (`*` for wildcard) → the set. Two levels so the long names key keeps its cached hash. */
  sets: Map<string, Map<string, ResourceSet>>;
  /** Encoded state-of-the-world responses, by version and content (with the nonce they were first sent with). */
  bodies: Map<string, EncodedResponse>;
  /** Every set built, by version (a version names its content), for `changes`. */
  byVersion: Map<string, ResourceSet>;
}

/** What a client holding one set needs to hold another: the resources to send and the names gone. */
export interface SetChanges {
  changed: readonly EncodedResource[];
  removed: readonly string[];
}

function newTypeCache(): TypeCache {
  return {
    keys: new WeakMap(),
    partAll: new Map(),
    partNamed: new Map(),
    sets: new Map(),
    bodies: new Map(),
    byVersion: new Map(),
  };
}

/** Generator calls per type URL (what a push cost; tests and benchmarks read it). */
export type GeneratorCalls = Map<string, number>;

export interface SnapshotResourcesOptions {
  /**
   * The resources of the snapshot this one replaces. When both snapshots have the same
   * `configVersion` only endpoints changed: every other type's output is taken over as it is, and
   * of EDS only the assignments of services whose endpoints changed are generated again.
   */
  previous?: SnapshotResources;
  /** Counts generator calls per type URL. */
  calls?: GeneratorCalls;
  /**
   * A new response nonce. A response is encoded once with its nonce and written to every stream
   * it is for (the nonce names the response, not the stream); default: a counter of this snapshot.
   */
  nonce?: () => string;
}

/**
 * Every resource generated from one snapshot, shared by all streams until the next snapshot.
 * Each generator part runs once per distinct part key (docs: GeneratorPart), each resource is
 * encoded once, and each distinct set (and its encoded response body) is built once.
 */
export class SnapshotResources {
  readonly snapshot: MeshSnapshot;
  /** Only endpoints changed since the previous snapshot (every other type's output is the previous one's). */
  readonly endpointsOnly: boolean;
  readonly #warn: Warn;
  readonly #calls: GeneratorCalls | undefined;
  readonly #nonce: () => string;
  readonly #types = new Map<string, TypeCache>();
  /** The previous snapshot's sets of named (RDS, EDS) types by version: what clients hold at a push. */
  readonly #earlier = new Map<string, ReadonlyMap<string, ResourceSet>>();
  /** `type#from#to` → the changes between two sets, shared by every client that holds `from`. */
  readonly #changes = new Map<string, SetChanges>();
  /**
   * Resources encoded for this snapshot (all types but EDS) by their generated content; the next
   * snapshot takes over those it generates again unchanged instead of encoding them again (a
   * route change regenerates every sidecar's listeners, and encoding is most of that cost).
   */
  readonly #byContent: Map<string, EncodedResource>;
  readonly #previousByContent: ReadonlyMap<string, EncodedResource> | undefined;

  constructor(snapshot: MeshSnapshot, warn: Warn, options: SnapshotResourcesOptions = {}) {
    this.snapshot = snapshot;
    this.#warn = warn;
    this.#calls = options.calls;
    let nonces = 0;
    this.#nonce = options.nonce ?? (() => String(++nonces));
    const previous = options.previous;
    this.endpointsOnly = previous !== undefined && previous.snapshot.configVersion === snapshot.configVersion;
    // After an endpoints-only change the other types' output is the previous one's: so is this map.
    this.#byContent = this.endpointsOnly && previous ? previous.#byContent : new Map();
    this.#previousByContent = this.endpointsOnly || !previous ? undefined : previous.#byContent;
    if (!previous) return;
    for (const [typeUrl, cache] of previous.#types)
      if (!FULL_STATE_TYPES.has(typeUrl)) this.#earlier.set(typeUrl, cache.byVersion);
    if (!this.endpointsOnly) return;
    for (const [typeUrl, cache] of previous.#types)
      this.#types.set(
        typeUrl,
        typeUrl === TYPE_URL.endpoint ? this.#unchangedAssignments(previous, cache) : cache,
      );
  }

  /** The EDS entries of the previous snapshot whose service's endpoints are the very same list. */
  #unchangedAssignments(previous: SnapshotResources, cache: TypeCache): TypeCache {
    const kept = newTypeCache();
    const before = previous.snapshot.endpointsByHost;
    const after = this.snapshot.endpointsByHost;
    for (const [partId, named] of cache.partNamed) {
      const entries = new Map<string, EncodedResource | null>();
      for (const [name, entry] of named) {
        const parsed = parseClusterName(name);
        const host = parsed?.direction === 'outbound' ? parsed.host : undefined;
        if (host === undefined || before.get(host) === after.get(host)) entries.set(name, entry);
      }
      kept.partNamed.set(partId, entries);
    }
    return kept;
  }

  /** `encode`, or the same content's encoding from this snapshot or the previous one (not for EDS, which changes most). */
  #encode(typeUrl: string, name: string, resource: Record<string, unknown>): EncodedResource {
    if (typeUrl === TYPE_URL.endpoint) return encode(typeUrl, name, resource);
    const key = `${typeUrl}\n${JSON.stringify(resource)}`;
    let encoded = this.#byContent.get(key) ?? this.#previousByContent?.get(key);
    if (encoded?.name !== name) encoded = encode(typeUrl, name, resource);
    this.#byContent.set(key, encoded);
    return encoded;
  }

  #typeCache(typeUrl: string): TypeCache {
    let cache = this.#types.get(typeUrl);
    if (!cache) {
      cache = newTypeCache();
      this.#types.set(typeUrl, cache);
    }
    return cache;
  }

  #partKeys(proxy: ProxyNode, cache: TypeCache, parts: readonly GeneratorPart[]): string[] {
    let keys = cache.keys.get(proxy);
    if (!keys) {
      keys = parts.map((part) => part.key(proxy, this.snapshot));
      cache.keys.set(proxy, keys);
    }
    return keys;
  }

  #generate(typeUrl: string, part: GeneratorPart, proxy: ProxyNode, names: readonly string[] | undefined) {
    this.#calls?.set(typeUrl, (this.#calls.get(typeUrl) ?? 0) + 1);
    return part.generate({ snapshot: this.snapshot, proxy, warn: this.#warn }, names);
  }

  /**
   * The resources of a type for a proxy: everything it should have (`names` undefined, a
   * wildcard subscription) or those of `names` that exist. `key` is `namesKey(names)`.
   */
  resourceSet(proxy: ProxyNode, typeUrl: string, names?: ReadonlySet<string>, key?: string): ResourceSet {
    const parts = GENERATOR_PARTS.get(typeUrl) ?? [];
    const cache = this.#typeCache(typeUrl);
    const keys = this.#partKeys(proxy, cache, parts);
    const partsKey = keys.join('#');
    const subscription = names ? (key ?? namesKey(names)) : '*';
    let sets = cache.sets.get(partsKey);
    if (!sets) {
      sets = new Map();
      cache.sets.set(partsKey, sets);
    }
    let set = sets.get(subscription);
    if (set) return set;
    set = names
      ? this.#namedSet(typeUrl, proxy, parts, keys, names)
      : this.#joinedSet(typeUrl, proxy, parts, keys);
    sets.set(subscription, set);
    cache.byVersion.set(set.version, set);
    return set;
  }

  /** Everything each part generates for the proxy's part keys, joined. */
  #joinedSet(
    typeUrl: string,
    proxy: ProxyNode,
    parts: readonly GeneratorPart[],
    keys: string[],
  ): ResourceSet {
    const cache = this.#typeCache(typeUrl);
    const outputs = parts.map((part, i) => {
      const partId = `${i}#${keys[i]}`;
      let all = cache.partAll.get(partId);
      if (!all) {
        const generated = this.#generate(typeUrl, part, proxy, undefined);
        all = new NamedSet(
          new Map(generated.map((r) => [r.name, this.#encode(typeUrl, r.name, r.resource)])),
        );
        cache.partAll.set(partId, all);
      }
      return all;
    });
    return new JoinedSet(outputs);
  }

  /** Those of `names` that the parts generate for the proxy's part keys. */
  #namedSet(
    typeUrl: string,
    proxy: ProxyNode,
    parts: readonly GeneratorPart[],
    keys: string[],
    names: ReadonlySet<string>,
  ): ResourceSet {
    const cache = this.#typeCache(typeUrl);
    const resources = new Map<string, EncodedResource>();
    parts.forEach((part, i) => {
      const partId = `${i}#${keys[i]}`;
      let named = cache.partNamed.get(partId);
      if (!named) {
        named = new Map();
        cache.partNamed.set(partId, named);
      }
      for (const name of names) {
        let entry = named.get(name);
        if (entry === undefined) {
          const generated = this.#generate(typeUrl, part, proxy, [name]).find((r) => r.name === name);
          entry = generated ? this.#encode(typeUrl, name, generated.resource) : null;
          named.set(name, entry);
        }
        if (entry) resources.set(name, entry);
      }
    });
    return new NamedSet(resources);
  }

  /**
   * What a client that was brought up to date with the set of version `from` needs to hold `to`
   * (of a named type: RDS, EDS), computed once for all such clients; undefined when that set is
   * not known here (it is older than the previous snapshot).
   */
  changes(typeUrl: string, from: string | undefined, to: ResourceSet): SetChanges | undefined {
    if (from === undefined) return undefined;
    const key = `${typeUrl}#${from}#${to.version}`;
    let changes = this.#changes.get(key);
    if (changes) return changes;
    const before = this.#types.get(typeUrl)?.byVersion.get(from) ?? this.#earlier.get(typeUrl)?.get(from);
    if (!before) return undefined;
    changes = {
      changed: [...to.resources.values()].filter((r) => before.resources.get(r.name)?.hash !== r.hash),
      removed: [...before.resources.keys()].filter((name) => !to.resources.has(name)),
    };
    this.#changes.set(key, changes);
    return changes;
  }

  /**
   * The encoded response sending `sent` of a set (undefined: the whole set), with its nonce;
   * encoded once for every stream sent the same.
   */
  response(typeUrl: string, set: ResourceSet, sent?: readonly EncodedResource[]): EncodedResponse {
    const whole = sent === undefined || sent.length === set.size;
    const key = `${set.version}#${whole ? '*' : sent.map((r) => r.name).join('\n')}`;
    const bodies = this.#typeCache(typeUrl).bodies;
    let response = bodies.get(key);
    if (!response) {
      const nonce = this.#nonce();
      const fields = whole ? set.fields : sent.map((r) => r.field);
      const bytes = joinDiscoveryResponse(set.version, typeUrl, fields, nonce);
      response = { body: bytes.subarray(0, bytes.length - nonceField(nonce).length), nonce, bytes };
      bodies.set(key, response);
    }
    return response;
  }

  /** `response` with a nonce of its own (a stream must not get the same nonce twice in a row). */
  renonced(response: EncodedResponse): EncodedResponse {
    const nonce = this.#nonce();
    return { body: response.body, nonce, bytes: withNonce(response.body, nonce) };
  }
}
