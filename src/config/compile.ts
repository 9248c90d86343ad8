// Turns a stored resource into what it means for the model, with the mesh's own DNS suffix and namespaces.

import type { CompileResult } from '../model/compiled.ts';
import { Check, formatPath } from './check.ts';
import type { HostContext } from './host.ts';
import { kindDefinition } from './kinds.ts';
import type { Resource } from './resource.ts';

export type { CompileResult };

/**
 * Reads a resource that was validated when it was applied, qualifying its hosts with the mesh's
 * settings. Returns undefined for kinds that carry nothing for the model snapshot.
 */
export function compileResource(
  resource: Resource,
  hosts: Omit<HostContext, 'namespace'>,
): CompileResult | undefined {
  const definition = kindDefinition(resource.kind);
  if (definition === undefined) return undefined;
  const check = new Check();
  const compiled = definition.read(check, resource.spec, {
    ...hosts,
    name: resource.metadata.name,
    namespace: resource.metadata.namespace,
    annotations: resource.metadata.annotations,
    labels: resource.metadata.labels,
    apiVersion: resource.apiVersion,
  });
  if (compiled === undefined || check.issues.length > 0)
    return {
      outcome: 'rejected',
      issues: check.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
    };
  return { outcome: 'compiled', compiled };
}
