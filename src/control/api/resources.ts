// Handlers of the resource routes: list, get and delete one, with kinds named by any alias.
import type { Resource } from '../../config/resource.ts';
import { BadRequestError, NotFoundError } from '../../errors.ts';
import type { Store } from '../store/store.ts';
import { deleteKeys } from './apply.ts';
import { canonicalKind } from './kinds.ts';
import type { DeleteResponse, ListResponse } from './types.ts';

/** Reads an optional query parameter; present but empty counts as absent. */
export function queryParam(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === '' ? undefined : value;
}

/** `GET /api/v1/resources?kind=&namespace=`: every match, sorted by kind, namespace and name. */
export function listResources(store: Store, params: URLSearchParams): ListResponse {
  for (const name of params.keys())
    if (name !== 'kind' && name !== 'namespace')
      throw new BadRequestError(`unknown query parameter ${name}: use kind and namespace`);
  const kindParam = queryParam(params, 'kind');
  const kind = kindParam === undefined ? undefined : canonicalKind(kindParam);
  const namespace = queryParam(params, 'namespace');
  // Revision and items from the same synchronous read, so a watch from `revision` misses nothing.
  const revision = store.revision();
  return { revision, items: store.list({ kind, namespace }) };
}

/** `GET /api/v1/resources/:kind/:namespace/:name`. */
export function getResource(store: Store, kindParam: string, namespace: string, name: string): Resource {
  const kind = canonicalKind(kindParam);
  const resource = store.get({ kind, namespace, name });
  if (!resource) throw new NotFoundError(`${kind} ${namespace}/${name} not found`);
  return resource;
}

/** `DELETE /api/v1/resources/:kind/:namespace/:name`. */
export function deleteResource(
  store: Store,
  kindParam: string,
  namespace: string,
  name: string,
): Promise<DeleteResponse> {
  return deleteKeys(store, [{ kind: canonicalKind(kindParam), namespace, name }]);
}
