// Reads one resource document: apiVersion, kind, metadata, spec (checked by the kind's reader).

import { DEFAULT_MESH } from '../model/mesh.ts';
import type { Check } from './check.ts';
import type { KindDefinition } from './kinds.ts';
import { kindDefinition, listKinds } from './kinds.ts';
import { dnsLabelError, dnsSubdomain, labels, stringMap } from './names.ts';
import type { Fields } from './read.ts';
import { count, defined, nonEmptyString, readObject, string } from './read.ts';
import type { ObjectMeta, Resource } from './resource.ts';
import { UNSUPPORTED_GROUP_KINDS, UNSUPPORTED_KINDS } from './upstream-kinds.ts';

/** How documents are read. */
export interface ReadOptions {
  /** Namespace of resources that name none (default `default`). A document's own namespace wins. */
  defaultNamespace?: string;
}

const KUBERNETES_OWNED = ['uid', 'selfLink', 'managedFields', 'ownerReferences', 'finalizers'];

function readMetadata(f: Fields, defaultNamespace: string): ObjectMeta {
  const name = f.required('name', dnsSubdomain) ?? '';
  const written = f.optional('namespace', string);
  const namespace = written ?? defaultNamespace;
  const namespaceError = dnsLabelError(namespace);
  if (namespaceError !== undefined)
    f.check.error(
      f.at('namespace'),
      `namespace ${namespaceError}${written === undefined ? ' (the default namespace)' : ''}`,
    );
  for (const key of KUBERNETES_OWNED) f.ignored(key, 'set by Kubernetes, not used by weft');
  return defined<ObjectMeta>({
    name,
    namespace,
    labels: f.optional('labels', labels),
    annotations: f.optional('annotations', stringMap),
    resourceVersion: f.optional('resourceVersion', string),
    creationTimestamp: f.optional('creationTimestamp', string),
    generation: f.optional('generation', count),
  });
}

function unknownKind(check: Check, kind: string): void {
  if (Object.hasOwn(UNSUPPORTED_KINDS, kind)) {
    check.error(
      ['kind'],
      `kind ${kind} is not supported by weft (yet): ${UNSUPPORTED_KINDS[kind]}`,
      'unsupported',
    );
    return;
  }
  const supported = listKinds();
  const sameLetters = supported.find((k) => k.kind.toLowerCase() === kind.toLowerCase());
  check.error(
    ['kind'],
    sameLetters !== undefined
      ? `unknown kind "${kind}" (kinds are case-sensitive: did you mean ${sameLetters.kind}?)`
      : `unknown kind "${kind}"; weft supports ${supported.map((k) => k.kind).join(', ')}`,
  );
}

/**
 * Reads one resource document. Issues and warnings go to `check` with paths relative to the
 * document. Returns undefined when the document has issues.
 */
export function readResource(check: Check, value: unknown, options: ReadOptions = {}): Resource | undefined {
  const before = check.issueCount;
  const result = readObject(check, value, [], (f) => {
    const apiVersion = f.required('apiVersion', nonEmptyString);
    const kind = f.required('kind', nonEmptyString);
    let definition: KindDefinition | undefined;
    if (kind !== undefined) {
      definition = kindDefinition(kind);
      if (definition === undefined) unknownKind(check, kind);
      else if (apiVersion !== undefined && !definition.apiVersions.includes(apiVersion)) {
        const other = UNSUPPORTED_GROUP_KINDS[`${apiVersion.split('/')[0]}/${kind}`];
        if (other !== undefined) {
          check.error(
            ['kind'],
            `kind ${kind} of ${apiVersion} is not supported by weft (yet): ${other}`,
            'unsupported',
          );
          // Another dialect's spec: weft's reader of the same kind name has nothing to say about it.
          definition = undefined;
        } else
          check.error(
            ['apiVersion'],
            `apiVersion "${apiVersion}" is not supported for ${kind}; use one of ${definition.apiVersions.join(', ')}`,
          );
      }
    }
    const defaultNamespace = options.defaultNamespace ?? 'default';
    const metadata = f.required('metadata', (c, v, p) =>
      readObject(c, v, p, (m) => readMetadata(m, defaultNamespace)),
    );
    f.ignored('status', 'status is reported by weft, not read from documents');
    const spec = f.required('spec', (_check, value) => value);
    if (spec === undefined || definition === undefined) return undefined;
    // Reading the spec checks it; what it means for the model is built again, with the mesh's
    // own settings, when the snapshot is (config/compile.ts).
    const compiled = definition.read(check, spec, {
      name: metadata?.name ?? '',
      namespace: metadata?.namespace ?? 'default',
      annotations: metadata?.annotations,
      labels: metadata?.labels,
      domainSuffix: DEFAULT_MESH.domainSuffix,
      apiVersion,
    });
    if (metadata === undefined || compiled === undefined || apiVersion === undefined) return undefined;
    return {
      apiVersion,
      kind: definition.kind,
      metadata,
      spec: structuredClone(spec) as Record<string, unknown>,
    };
  });
  return check.issueCount > before ? undefined : result;
}
