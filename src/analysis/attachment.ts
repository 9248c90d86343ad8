// Analyzers of attachment: Gateway API routes that attach to no parent, policies whose selector matches no workload.
import type { FieldPath } from '../config/check.ts';
import type { ResourceKey } from '../config/resource.ts';
import { policyApplies } from '../model/policies.ts';
import { isPermitted } from '../model/reference-grants.ts';
import type { GatewayApiRouteModel, Labels, MeshSnapshot, ReferenceGrantModel } from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** `spec.parentRefs[2]: reason` → the path and the reason. */
function splitIssue(issue: string): { path: FieldPath; reason: string } {
  const match = /^spec\.parentRefs(?:\[(\d+)\])?: (.*)$/.exec(issue);
  if (match === null) return { path: ['spec'], reason: issue };
  return {
    path: match[1] === undefined ? ['spec', 'parentRefs'] : ['spec', 'parentRefs', Number(match[1])],
    reason: match[2],
  };
}

/** HTTPRoutes and GRPCRoutes that no parent accepted: they route nothing. */
export function unattachedRoutes(snapshot: MeshSnapshot): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const rejected of snapshot.rejected ?? []) {
    if (!['HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute'].includes(rejected.kind)) continue;
    const resource = { kind: rejected.kind, namespace: rejected.namespace, name: rejected.name };
    for (const issue of rejected.issues) {
      const { path, reason } = splitIssue(issue);
      out.push({
        code: 'RouteNotAttached',
        resource,
        path,
        message: `the ${rejected.kind} attaches to no Gateway or Service, so it routes nothing: ${reason}`,
        hint: 'name an existing Gateway (and a listener whose allowedRoutes admit the route) or a Service in parentRefs',
      });
    }
  }
  return out;
}

/** A security policy with a workload selector. */
export interface SelectingPolicy {
  key: ResourceKey;
  namespace: string;
  selector?: Labels;
}

/** Policies whose `selector.matchLabels` matches no workload in scope (needs the mesh's workloads). */
export function policiesSelectingNothing(
  snapshot: MeshSnapshot,
  policies: readonly SelectingPolicy[],
): AnalysisFinding[] {
  const root = snapshot.mesh.rootNamespace;
  return policies
    .filter((p) => p.selector !== undefined && Object.keys(p.selector).length > 0)
    .filter((p) => !snapshot.workloads.some((w) => policyApplies(p, w, root)))
    .map((p) => ({
      code: 'SelectorMatchesNothing' as const,
      resource: p.key,
      path: ['spec', 'selector', 'matchLabels'],
      message: `selector ${Object.entries(p.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ',',
        )} matches no workload${p.namespace === root ? '' : ` in namespace ${p.namespace}`}, so this ${p.key.kind} applies to nothing`,
      hint: `use the labels of a running workload (weft gives every sidecar app=<service> and version=<version>)${p.namespace === root ? '' : `, or move the policy to the workloads' namespace`}`,
    }));
}

/** A Gateway API route with its stored spec, for pointing at its backendRefs. */
export interface ReadRoute {
  key: ResourceKey;
  model: GatewayApiRouteModel;
  spec: Record<string, unknown>;
}

/** Where `backendRefs[]` names the Service `name` of `namespace` in a route's spec. */
function backendRefPath(
  spec: Record<string, unknown>,
  routeNamespace: string,
  namespace: string,
  name: string,
): FieldPath {
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  for (const [i, rule] of rules.entries()) {
    const refs = Array.isArray(rule?.backendRefs) ? rule.backendRefs : [];
    for (const [j, ref] of refs.entries())
      if (ref?.name === name && (ref?.namespace ?? routeNamespace) === namespace)
        return ['spec', 'rules', i, 'backendRefs', j];
  }
  return ['spec', 'rules'];
}

/** Backends in other namespaces that no ReferenceGrant there permits: their share of requests gets 500. */
export function backendsNotPermitted(
  routes: readonly ReadRoute[],
  grants: readonly ReferenceGrantModel[],
): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const { key, model, spec } of routes) {
    const hosts = new Set([
      ...model.rules.flatMap((r) => (r.route.route ?? []).map((d) => d.host)),
      ...(model.streams ?? []).map((d) => d.host),
    ]);
    for (const host of hosts) {
      if (isPermitted(model, host, grants)) continue;
      const [name, namespace] = host.split('.');
      out.push({
        code: 'BackendNotPermitted',
        resource: key,
        path: backendRefPath(spec, model.namespace, namespace, name),
        message: `no ReferenceGrant in namespace ${namespace} lets ${model.kind}s of namespace ${model.namespace} use Service ${name}, so ${model.streams === undefined ? 'the requests meant for it get 500' : 'it gets no connections'}`,
        hint: `add a ReferenceGrant in namespace ${namespace} with from {group: gateway.networking.k8s.io, kind: ${model.kind}, namespace: ${model.namespace}} and to {group: "", kind: Service, name: ${name}}`,
      });
    }
  }
  return out;
}
