// The stored resources, each compiled once per revision, and the config part of the snapshot assembled from them.
import { compileResource } from '../config/compile.ts';
import { type Resource, resourceKeyString } from '../config/resource.ts';
import type { CompiledResource, CompileResult } from '../model/compiled.ts';
import { assembleConfig, type ConfigView } from '../model/config-view.ts';
import { buildSnapshot, meshNamespaces } from '../model/snapshot.ts';
import type { MeshSettings, MeshSnapshot, Workload } from '../model/types.ts';
import type { StoreEvent } from './store/store.ts';

/** One stored resource and what it compiled to. */
interface Entry {
  /** The stored object (its `resourceVersion` is the revision it was compiled at). */
  resource: Resource;
  /** Undefined for kinds that mean nothing to the snapshot. */
  compiled: CompiledResource | undefined;
  /** The namespaces the compile asked about (`name.ns` hosts), with the answer each got. */
  lookups: Map<string, boolean>;
}

/** How much work the cache did (for tests and benchmarks). */
export interface CompiledStoreCounters {
  /** Resources read and compiled. */
  compiles: number;
  /** ConfigViews assembled from the compiled resources. */
  assemblies: number;
}

function compileFailure(err: unknown): CompileResult {
  return {
    outcome: 'rejected',
    issues: [`weft failed to read this resource (a bug): ${(err as Error).message}`],
  };
}

/**
 * Mirrors the store: a resource is compiled when it is loaded or applied (once per revision), and
 * again only when an answer it depended on changes: whether a namespace it names (`reviews.prod`)
 * exists. `view()` returns the same ConfigView object until a compiled resource changes.
 */
export class CompiledStore {
  readonly counters: CompiledStoreCounters = { compiles: 0, assemblies: 0 };
  readonly #mesh: MeshSettings;
  readonly #entries = new Map<string, Entry>();
  /** Stored resources per namespace (every kind counts: a namespace holding anything exists). */
  readonly #namespaceCounts = new Map<string, number>();
  /** The namespaces of the last `view()`, used to compile resources applied in between. */
  #namespaces: ReadonlySet<string>;
  #view: ConfigView | undefined;

  constructor(mesh: MeshSettings) {
    this.#mesh = mesh;
    this.#namespaces = meshNamespaces(mesh, [], []);
  }

  /** Compiles the store's contents at start (replacing anything held). */
  load(resources: Iterable<Resource>): void {
    this.#entries.clear();
    this.#namespaceCounts.clear();
    const list = [...resources];
    for (const resource of list) this.#count(resource.metadata.namespace, 1);
    this.#namespaces = meshNamespaces(this.#mesh, this.#namespaceCounts.keys(), []);
    for (const resource of list) this.#put(resource);
    this.#view = undefined;
  }

  /**
   * Makes the held resources exactly `resources`: compiles those not held at their revision
   * (resources without a revision, such as a request's, every time), forgets the others.
   * `workloads` are those the next `view` will be given.
   */
  sync(resources: Iterable<Resource>, workloads: readonly Workload[]): void {
    const list = [...resources];
    this.#namespaceCounts.clear();
    for (const resource of list) this.#count(resource.metadata.namespace, 1);
    this.#namespaces = meshNamespaces(this.#mesh, this.#namespaceCounts.keys(), workloads);
    const keys = new Set<string>();
    for (const resource of list) keys.add(this.#put(resource));
    for (const [key, entry] of this.#entries)
      if (!keys.has(key)) {
        this.#entries.delete(key);
        if (entry.compiled) this.#view = undefined;
      }
  }

  /** What `resource` compiled to, when this very object is held (undefined: not held, or a kind that means nothing). */
  resultOf(resource: Resource): CompileResult | undefined {
    const entry = this.#entries.get(resourceKeyString({ kind: resource.kind, ...resource.metadata }));
    return entry?.resource === resource ? entry.compiled?.result : undefined;
  }

  /** Compiles what a committed batch put, forgets what it deleted (in the batch's order). */
  apply(events: readonly StoreEvent[]): void {
    // Namespaces the batch brings count at once, so `name.ns` hosts naming them are qualified now.
    const added = events.filter((e) => e.type === 'put').map((e) => e.resource.metadata.namespace);
    this.#namespaces = new Set([...this.#namespaces, ...added]);
    for (const event of events) {
      const key = resourceKeyString({ kind: event.resource.kind, ...event.resource.metadata });
      const known = this.#entries.get(key);
      if (known) this.#count(known.resource.metadata.namespace, -1);
      if (event.type === 'put') {
        this.#count(event.resource.metadata.namespace, 1);
        this.#put(event.resource);
      } else if (known) {
        this.#entries.delete(key);
        if (known.compiled) this.#view = undefined;
      }
    }
  }

  /**
   * The config part for a snapshot with these workloads. Resources whose namespace lookups answer
   * differently now (a namespace appeared or went away) are compiled again; the others are not.
   */
  view(workloads: readonly Workload[]): ConfigView {
    const namespaces = meshNamespaces(this.#mesh, this.#namespaceCounts.keys(), workloads);
    if (!sameSet(namespaces, this.#namespaces)) {
      this.#namespaces = namespaces;
      for (const entry of this.#entries.values())
        for (const [namespace, answer] of entry.lookups)
          if (namespaces.has(namespace) !== answer) {
            this.#put(entry.resource);
            break;
          }
    }
    if (this.#view === undefined) {
      this.counters.assemblies++;
      this.#view = assembleConfig(this.#compiledResources(), this.#mesh);
    }
    return this.#view;
  }

  *#compiledResources(): Iterable<CompiledResource> {
    for (const entry of this.#entries.values()) if (entry.compiled) yield entry.compiled;
  }

  #count(namespace: string, delta: number): void {
    const count = (this.#namespaceCounts.get(namespace) ?? 0) + delta;
    if (count > 0) this.#namespaceCounts.set(namespace, count);
    else this.#namespaceCounts.delete(namespace);
  }

  /** Compiles `resource` unless this very revision is held with answers that still hold; returns its key. */
  #put(resource: Resource): string {
    const key = resourceKeyString({ kind: resource.kind, ...resource.metadata });
    const known = this.#entries.get(key);
    if (known && sameRevision(known.resource, resource) && lookupsHold(known.lookups, this.#namespaces)) {
      // The same revision as another object (a store hands out copies): hold this one.
      if (known.resource !== resource) known.resource = resource;
      return key;
    }
    const namespaces = this.#namespaces;
    const lookups = new Map<string, boolean>();
    const recorder = {
      has: (namespace: string) => {
        const answer = namespaces.has(namespace);
        lookups.set(namespace, answer);
        return answer;
      },
    };
    let result: CompileResult | undefined;
    try {
      result = compileResource(resource, { domainSuffix: this.#mesh.domainSuffix, namespaces: recorder });
    } catch (err) {
      result = compileFailure(err);
    }
    this.counters.compiles++;
    const { namespace, name, creationTimestamp } = resource.metadata;
    const compiled = result && { kind: resource.kind, namespace, name, creationTimestamp, result };
    this.#entries.set(key, { resource, compiled, lookups });
    if (compiled || known?.compiled) this.#view = undefined;
    return key;
  }
}

function sameRevision(a: Resource, b: Resource): boolean {
  if (a === b) return true;
  const version = a.metadata.resourceVersion;
  return version !== undefined && version === b.metadata.resourceVersion;
}

function lookupsHold(lookups: ReadonlyMap<string, boolean>, namespaces: ReadonlySet<string>): boolean {
  for (const [namespace, answer] of lookups) if (namespaces.has(namespace) !== answer) return false;
  return true;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

/** One-shot: compiles `resources` and builds a snapshot (tests, tools); the control plane keeps a CompiledStore. */
export function snapshotFromResources(input: {
  resources: readonly Resource[];
  workloads: readonly Workload[];
  mesh: MeshSettings;
  version: number;
}): MeshSnapshot {
  const store = new CompiledStore(input.mesh);
  store.load(input.resources);
  return buildSnapshot({
    config: store.view(input.workloads),
    workloads: input.workloads,
    version: input.version,
  });
}
