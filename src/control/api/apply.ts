// apply and delete of whole requests: one atomic store commit, with kubectl-style per-resource outcomes.
import { isDeepStrictEqual } from 'node:util';
import { formatFinding } from '../../analysis/format.ts';
import type { Resource, ResourceKey } from '../../config/resource.ts';
import { keyOf, resourceKeyString } from '../../config/resource.ts';
import { NotFoundError } from '../../errors.ts';
import type { Store, StoreOp } from '../store/store.ts';
import type { MeshAnalyzer } from './analyze.ts';
import type { ParsedResource } from './sources.ts';
import { parseSources } from './sources.ts';
import type {
  ApplyAction,
  ApplyResponse,
  ApplyWarning,
  DeleteResponse,
  ResourceRef,
  SourcesRequest,
} from './types.ts';

/** What the user controls in a resource: everything but the metadata the store assigns. */
function desired(resource: Resource): unknown {
  const { metadata, ...rest } = resource;
  return {
    ...rest,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      labels: metadata.labels ?? {},
      annotations: metadata.annotations ?? {},
    },
  };
}

/** The user's copy without the metadata the store assigns (it would be overwritten anyway). */
function withoutServerFields(resource: Resource): Resource {
  const { resourceVersion: _v, creationTimestamp: _c, generation: _g, ...metadata } = resource.metadata;
  return { ...resource, metadata };
}

export function refOf(resource: Resource): ResourceRef {
  return {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    namespace: resource.metadata.namespace,
    name: resource.metadata.name,
  };
}

/**
 * Parses every source and stores every changed resource in one commit (nothing on any error).
 * With an analyzer, the problems it finds in the applied resources are added to the warnings
 * (the resources are applied all the same).
 */
export async function applySources(
  store: Store,
  request: SourcesRequest,
  analyzer?: MeshAnalyzer,
): Promise<ApplyResponse> {
  const { resources, warnings } = parseSources(request);
  const planned = resources.map(({ resource, location }) => {
    const existing = store.get(keyOf(resource));
    const action: ApplyAction =
      existing === undefined
        ? 'created'
        : isDeepStrictEqual(desired(existing), desired(resource))
          ? 'unchanged'
          : 'configured';
    return { resource, location, action, existing };
  });
  const ops: StoreOp[] = planned
    .filter((p) => p.action !== 'unchanged')
    .map((p) => ({ type: 'put', resource: withoutServerFields(p.resource) }));
  const committed = await store.commit(ops);
  const stored = new Map(
    committed.results.map((event) => [resourceKeyString(keyOf(event.resource)), event.resource]),
  );
  if (analyzer !== undefined) warnings.push(...analysisWarnings(analyzer, resources));
  return {
    revision: committed.revision,
    results: planned.map(({ resource, location, action, existing }) => {
      const now = stored.get(resourceKeyString(keyOf(resource))) ?? existing!;
      return { ...refOf(now), action, resourceVersion: now.metadata.resourceVersion ?? '', source: location };
    }),
    warnings,
  };
}

/** The analyzer's findings about `resources`, as apply warnings. */
function analysisWarnings(analyzer: MeshAnalyzer, resources: readonly ParsedResource[]): ApplyWarning[] {
  const locations = new Map(resources.map((r) => [resourceKeyString(keyOf(r.resource)), r.location]));
  const out: ApplyWarning[] = [];
  for (const finding of analyzer(resources)) {
    const location = locations.get(resourceKeyString(finding));
    if (location === undefined) continue;
    out.push({
      file: location.file,
      document: location.document,
      line: finding.line ?? location.line,
      message: formatFinding(finding),
    });
  }
  return out;
}

/** Deletes every resource the sources name, in one commit; any missing one fails the whole request. */
export async function deleteSources(store: Store, request: SourcesRequest): Promise<DeleteResponse> {
  const { resources } = parseSources(request);
  return deleteKeys(
    store,
    resources.map(({ resource }) => keyOf(resource)),
  );
}

/** Deletes `keys` atomically; NotFoundError lists every key that does not exist. */
export async function deleteKeys(store: Store, keys: ResourceKey[]): Promise<DeleteResponse> {
  const missing = keys.filter((key) => store.get(key) === undefined);
  if (missing.length > 0)
    throw new NotFoundError(
      `not found, nothing deleted: ${missing.map((k) => `${k.kind} ${k.namespace}/${k.name}`).join(', ')}`,
    );
  const committed = await store.commit(keys.map((key) => ({ type: 'delete', key })));
  return {
    revision: committed.revision,
    results: committed.results.map((event) => ({ ...refOf(event.resource), action: 'deleted' })),
  };
}
