// Linkerd authorization references `weft analyze` checks: Servers and authentications that policies name but no resource defines.
import type { ResourceKey } from '../config/resource.ts';
import { selectorMatches } from '../model/labels.ts';
import type { LinkerdAuthorizationPart } from '../model/linkerd-authorization-types.ts';
import type { MeshSnapshot } from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** One Linkerd authorization resource, as read. */
export interface ReadLinkerdPart {
  key: ResourceKey;
  part: LinkerdAuthorizationPart;
}

/** `namespace/name` of every resource of `kind` among the parts. */
function defined(parts: readonly ReadLinkerdPart[], kind: LinkerdAuthorizationPart['kind']): Set<string> {
  return new Set(parts.filter((p) => p.part.kind === kind).map((p) => `${p.key.namespace}/${p.key.name}`));
}

function serverNotFound(key: ResourceKey, path: (string | number)[], name: string): AnalysisFinding {
  return {
    code: 'ServerNotFound',
    resource: key,
    path,
    message: `no Server ${name} in namespace ${key.namespace}: this ${key.kind} authorizes no one`,
    hint: `apply a Server named ${name} in ${key.namespace}, or fix the name`,
  };
}

/**
 * A Linkerd AuthorizationPolicy or ServerAuthorization naming a Server that does not exist
 * authorizes nothing; a required MeshTLSAuthentication or NetworkAuthentication that does not
 * exist makes the policy admit no one (Linkerd's rule, which weft follows).
 */
export function linkerdRefsNotFound(parts: readonly ReadLinkerdPart[]): AnalysisFinding[] {
  const servers = defined(parts, 'Server');
  const authentications = {
    MeshTLSAuthentication: defined(parts, 'MeshTLSAuthentication'),
    NetworkAuthentication: defined(parts, 'NetworkAuthentication'),
  };
  const out: AnalysisFinding[] = [];
  for (const { key, part } of parts) {
    if (part.kind === 'ServerAuthorization') {
      const { server } = part.serverAuthorization;
      if ('name' in server && !servers.has(`${key.namespace}/${server.name}`))
        out.push(serverNotFound(key, ['spec', 'server', 'name'], server.name));
    }
    if (part.kind !== 'LinkerdAuthorizationPolicy') continue;
    const { target, authentications: refs } = part.policy;
    if (target.kind === 'Server' && !servers.has(`${key.namespace}/${target.name}`))
      out.push(serverNotFound(key, ['spec', 'targetRef', 'name'], target.name));
    for (const ref of refs)
      if (!authentications[ref.kind].has(`${ref.namespace}/${ref.name}`))
        out.push({
          code: 'AuthenticationNotFound',
          resource: key,
          path: ['spec', 'requiredAuthenticationRefs', ref.at, 'name'],
          message: `no ${ref.kind} ${ref.name} in namespace ${ref.namespace}: a required authentication that does not exist makes this policy admit no one`,
          hint: `apply a ${ref.kind} named ${ref.name} in ${ref.namespace}, or fix the name`,
        });
  }
  return out;
}

/** Servers whose pod selector matches no workload of their namespace (needs the mesh's workloads). */
export function serversSelectingNothing(
  snapshot: MeshSnapshot,
  parts: readonly ReadLinkerdPart[],
): AnalysisFinding[] {
  return parts.flatMap(({ key, part }) => {
    if (part.kind !== 'Server') return [];
    const { namespace, selector } = part.server;
    if (snapshot.workloads.some((w) => w.namespace === namespace && selectorMatches(selector, w.labels)))
      return [];
    const labels = Object.entries(selector).map(([k, v]) => `${k}=${v}`);
    return [
      {
        code: 'SelectorMatchesNothing' as const,
        resource: key,
        path: ['spec', 'podSelector', 'matchLabels'],
        message: `podSelector ${labels.join(',') || '{}'} matches no workload in namespace ${namespace}, so this Server applies to nothing`,
        hint: 'use the labels of a running workload (weft gives every sidecar app=<service> and version=<version>)',
      },
    ];
  });
}
