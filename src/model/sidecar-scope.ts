// Which Sidecar resource scopes a proxy, and whether a service is in that scope (Istio's SidecarScope; pure).
import { selectorMatches } from './labels.ts';
import type { Labels, MeshSnapshot, Service, SidecarModel } from './types.ts';

/**
 * The Sidecar that applies to a proxy in `namespace` with `labels`, as Istio picks it: the oldest
 * one of its namespace whose workloadSelector matches; else the oldest of its namespace without
 * a selector; else the oldest of the root namespace without a selector (the mesh's default).
 * Undefined: none, so the proxy's outbound configuration holds every service it may see.
 */
export function sidecarScope(
  snapshot: MeshSnapshot,
  namespace: string,
  labels: Labels,
): SidecarModel | undefined {
  const root = snapshot.mesh.rootNamespace;
  let forNamespace: SidecarModel | undefined;
  let forMesh: SidecarModel | undefined;
  for (const sidecar of snapshot.sidecars ?? []) {
    if (sidecar.selector !== undefined) {
      if (sidecar.namespace === namespace && selectorMatches(sidecar.selector, labels)) return sidecar;
    } else if (sidecar.namespace === namespace) forNamespace ??= sidecar;
    else if (sidecar.namespace === root) forMesh ??= sidecar;
  }
  return forNamespace ?? forMesh;
}

/** Whether `hostname` matches an egress DNS name: exact, `*.suffix` (any deeper name), or `*`. */
function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1));
  return pattern === hostname;
}

/**
 * Whether a Sidecar's egress hosts take in `service` for a proxy in `namespace`: `./` is the
 * proxy's namespace (also under a mesh-wide default in the root namespace, as in Istio), `*`
 * any namespace, `~` none.
 */
export function inSidecarScope(scope: SidecarModel, namespace: string, service: Service): boolean {
  const hostname = service.hostname.toLowerCase();
  return scope.egressHosts.some((egress) => {
    if (egress.namespace === '~') return false;
    const ns = egress.namespace === '.' ? namespace : egress.namespace;
    return (ns === '*' || ns === service.namespace) && hostMatches(egress.host, hostname);
  });
}
