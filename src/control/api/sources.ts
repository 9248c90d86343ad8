// Validates the body of apply/delete requests and parses every source into resources, all-or-nothing.
import { z } from 'zod';
import { type ParsedDocument, parseResources } from '../../config/parse.ts';
import type { Resource, SourceLocation } from '../../config/resource.ts';
import { resourceKeyString } from '../../config/resource.ts';
import { BadRequestError, ConfigError, type ConfigIssue } from '../../errors.ts';
import type { ApplyWarning, SourcesRequest } from './types.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const sourcesRequest = z.object({
  sources: z
    .array(z.object({ file: z.string().min(1).max(4096), text: z.string() }))
    .min(1, 'needs at least one source'),
  namespace: z.string().regex(DNS_LABEL, 'must be a DNS label (lower-case letters, digits, -)').optional(),
});

/** Checks the shape of an apply/delete body; a wrong shape is a BadRequestError naming the field. */
export function toSourcesRequest(body: unknown): SourcesRequest {
  const result = sourcesRequest.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  throw new BadRequestError(`request body${path}: ${issue.message}`);
}

/** A parsed resource with where it came from. */
export interface ParsedResource {
  resource: Resource;
  location: SourceLocation;
  /** Where a field of the resource is written (line, column), for analysis findings. */
  place?: ParsedDocument['place'];
}

/**
 * Parses every source. Any issue in any document (including a resource named twice) throws one
 * ConfigError carrying all of them, so a multi-document request is accepted whole or not at all.
 */
export function parseSources(request: SourcesRequest): {
  resources: ParsedResource[];
  warnings: ApplyWarning[];
} {
  const issues: ConfigIssue[] = [];
  const resources: ParsedResource[] = [];
  const warnings: ApplyWarning[] = [];
  const seen = new Map<string, SourceLocation>();
  for (const source of request.sources) {
    let parsed: ReturnType<typeof parseResources>;
    try {
      parsed = parseResources(source.text, source.file, { defaultNamespace: request.namespace });
    } catch (err) {
      if (err instanceof ConfigError) {
        issues.push(...err.issues);
        continue;
      }
      throw err;
    }
    for (const { resource, location, warnings: messages, place } of parsed) {
      const key = resourceKeyString({
        kind: resource.kind,
        namespace: resource.metadata.namespace,
        name: resource.metadata.name,
      });
      const first = seen.get(key);
      if (first) {
        issues.push({
          file: location.file,
          document: location.document,
          line: location.line,
          field: 'metadata.name',
          message: `${key} is also defined in ${first.file} document ${first.document} (line ${first.line}); each resource may appear once per request`,
        });
        continue;
      }
      seen.set(key, location);
      resources.push({ resource, location, place });
      for (const message of messages)
        warnings.push({ file: location.file, document: location.document, line: location.line, message });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { resources, warnings };
}
