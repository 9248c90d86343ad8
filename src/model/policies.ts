// Which security policies apply to a workload, with Istio's scoping and precedence (pure functions of the snapshot).
import { selectorMatches } from './labels.ts';
import type {
  AuthorizationOperation,
  AuthorizationPolicyModel,
  HttpRouteGroupModel,
  Labels,
  MeshSnapshot,
  MtlsMode,
  PeerAuthenticationModel,
  RequestAuthenticationModel,
  TrafficTargetModel,
  Workload,
} from './types.ts';

/** What policy selection reads of a workload (a Workload, or an xDS ProxyNode, has it). */
export type PolicyTarget = Pick<Workload, 'namespace' | 'labels' | 'serviceAccount'>;

/** A mode that is in force: UNSET has been resolved through the scopes. */
export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

/** The scoping fields every security policy has. */
interface Scoped {
  namespace: string;
  selector?: Labels;
  serviceAccount?: string;
  /** Its own namespace's workloads only, even in the root namespace (a Linkerd Server). */
  ownNamespace?: boolean;
}

/**
 * Istio's scoping for AuthorizationPolicy and RequestAuthentication: a policy in the root
 * namespace applies in every namespace (to the workloads its selector matches, or all); any other
 * policy applies in its own namespace only. A selector must match the workload's labels; an SMI
 * destination service account must be the workload's.
 */
export function policyApplies(policy: Scoped, target: PolicyTarget, rootNamespace: string): boolean {
  const meshWide = policy.namespace === rootNamespace && policy.ownNamespace !== true;
  if (!meshWide && policy.namespace !== target.namespace) return false;
  if (policy.serviceAccount !== undefined) {
    if (policy.namespace !== target.namespace || policy.serviceAccount !== target.serviceAccount)
      return false;
  }
  return policy.selector === undefined || selectorMatches(policy.selector, target.labels);
}

/** The AuthorizationPolicies (and mapped TrafficTargets) that apply to a workload, oldest first. */
export function authorizationPoliciesFor(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
): AuthorizationPolicyModel[] {
  const root = snapshot.mesh.rootNamespace;
  return (snapshot.authorizationPolicies ?? []).filter((p) => policyApplies(p, target, root));
}

/** The RequestAuthentications that apply to a workload, oldest first (their JWT rules are combined). */
export function requestAuthenticationsFor(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
): RequestAuthenticationModel[] {
  const root = snapshot.mesh.rootNamespace;
  return (snapshot.requestAuthentications ?? []).filter((p) => policyApplies(p, target, root));
}

/** The three PeerAuthentication scopes that can cover a workload: the oldest policy of each. */
export interface PeerAuthenticationScopes {
  /** Root namespace, no selector. */
  mesh?: PeerAuthenticationModel;
  /** The workload's namespace, no selector. */
  namespace?: PeerAuthenticationModel;
  /** The workload's namespace, a selector matching it (a selector in the root namespace is ignored, as in Istio). */
  workload?: PeerAuthenticationModel;
}

/** Picks, per scope, the oldest PeerAuthentication that covers the workload (the snapshot lists oldest first). */
export function peerAuthenticationScopes(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
): PeerAuthenticationScopes {
  const root = snapshot.mesh.rootNamespace;
  const scopes: PeerAuthenticationScopes = {};
  for (const policy of snapshot.peerAuthentications ?? []) {
    if (policy.selector === undefined) {
      if (policy.namespace === root) scopes.mesh ??= policy;
      // A namespace-wide policy in the root namespace is the mesh policy, never the namespace one.
      else if (policy.namespace === target.namespace) scopes.namespace ??= policy;
    } else if (
      policy.namespace !== root &&
      policy.namespace === target.namespace &&
      selectorMatches(policy.selector, target.labels)
    )
      scopes.workload ??= policy;
  }
  return scopes;
}

/**
 * The mTLS mode in force for a workload's port, with Istio's precedence: the workload policy's
 * `portLevelMtls` for the port, then the workload, namespace and mesh policies' modes, each
 * `UNSET` falling through to the next (an UNSET port inherits the workload's resolved mode);
 * PERMISSIVE when nothing sets one.
 */
export function peerAuthenticationFor(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
  port: number,
): EffectiveMtlsMode {
  const scopes = peerAuthenticationScopes(snapshot, target);
  let mode: EffectiveMtlsMode = 'PERMISSIVE';
  for (const policy of [scopes.mesh, scopes.namespace, scopes.workload])
    if (policy !== undefined && policy.mode !== 'UNSET') mode = policy.mode;
  const portMode = scopes.workload?.portLevelMtls.find((p) => p.port === port)?.mode;
  return portMode === undefined || portMode === 'UNSET' ? mode : portMode;
}

/** `<trust-domain>/ns/<ns>/sa/<sa>`: a peer identity as AuthorizationPolicy principals name it. */
export function principalName(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * SMI TrafficTargets as ALLOW AuthorizationPolicies on the destination service account's
 * workloads: sources become principals; the HTTPRouteGroup matches the rules name become
 * operations (method list, path regex anchored at the start, header regexes). A rule naming a
 * group or match that does not exist contributes nothing, so a target whose rules all fail to
 * resolve allows nothing (deny by default, as SMI specifies).
 */
export function trafficTargetPolicies(
  targets: readonly TrafficTargetModel[],
  groups: readonly HttpRouteGroupModel[],
  trustDomain: string,
): AuthorizationPolicyModel[] {
  const byName = new Map(groups.map((g) => [`${g.namespace}/${g.name}`, g]));
  return targets.map((target) => {
    const operations: AuthorizationOperation[] = [];
    for (const rule of target.rules) {
      const group = byName.get(`${target.namespace}/${rule.routeGroup}`);
      if (group === undefined) continue;
      for (const match of group.matches) {
        if (rule.matches !== undefined && !rule.matches.includes(match.name)) continue;
        const operation: AuthorizationOperation = {};
        if (match.methods !== undefined) operation.methods = match.methods;
        if (match.pathRegex !== undefined) operation.pathRegex = match.pathRegex;
        if (match.headers !== undefined) operation.headerRegexes = match.headers;
        operations.push(operation);
      }
    }
    const principals = target.sources.map((s) => principalName(trustDomain, s.namespace, s.serviceAccount));
    return {
      name: target.name,
      namespace: target.namespace,
      origin: { kind: 'TrafficTarget', namespace: target.namespace, name: target.name },
      serviceAccount: target.destination,
      action: 'ALLOW',
      dryRun: false,
      // An empty `to` would mean "any operation": without resolved routes the rule must not exist.
      rules: operations.length === 0 ? [] : [{ from: [{ principals }], to: operations, when: [] }],
    };
  });
}
