// The shape of a user resource as weft stores and serves it (Kubernetes object form, any dialect).

/** Kubernetes-style object metadata. `namespace` is always set once a resource is accepted. */
export interface ObjectMeta {
  name: string;
  /** Defaults to `default` when the document leaves it out. */
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Store revision of the last write to this resource (a decimal string, as in Kubernetes). */
  resourceVersion?: string;
  /** RFC 3339 time the resource was first created. */
  creationTimestamp?: string;
  /** Bumped on every change of `spec`. */
  generation?: number;
}

/** One user resource: `apiVersion` + `kind` + `metadata` + `spec` (dialect-specific body). */
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Record<string, unknown>;
  /** What weft made of the resource, added when it is shown (`weft get`); never stored or read. */
  status?: unknown;
}

/** Identifies one resource: kind (case as registered, e.g. `VirtualService`), namespace and name. */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

/** The store's string key for a resource: `Kind/namespace/name`. */
export function resourceKeyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

export function keyOf(resource: Resource): ResourceKey {
  return { kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name };
}

/** Where a resource came from, so errors can point at it. */
export interface SourceLocation {
  /** File name, `-` for stdin, `request` for an API body. */
  file: string;
  /** Zero-based index of the document in the file. */
  document: number;
  /** One-based line where the document starts. */
  line: number;
}
