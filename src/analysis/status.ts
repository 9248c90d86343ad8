// The status weft reports for a resource (`weft get -o yaml`): Accepted and ResolvedRefs conditions, per parent for Gateway API routes.
import { formatPath } from '../config/check.ts';
import { compileResource } from '../config/compile.ts';
import type { Resource } from '../config/resource.ts';
import { attach } from '../model/gateways.ts';
import type { GatewayApiRouteModel, MeshSnapshot, RouteParent } from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** The name weft writes as `controllerName` in route parent statuses. */
export const CONTROLLER_NAME = 'weft.dev/gateway-controller';

/** A Kubernetes-style condition. */
export interface Condition {
  type: 'Accepted' | 'ResolvedRefs';
  status: 'True' | 'False';
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface ResourceStatus {
  /** Gateway API routes: one entry per parent weft serves. */
  parents?: { parentRef: Record<string, string | number>; controllerName: string; conditions: Condition[] }[];
  /** Every other kind. */
  conditions?: Condition[];
  /** What `weft analyze` found about the resource (as Istio's validationMessages). */
  validationMessages?: { code: string; field: string; message: string }[];
}

/** Findings that mean a reference does not resolve, and the ResolvedRefs reason each gives. */
const REF_REASONS: Partial<Record<AnalysisFinding['code'], string>> = {
  SubsetNotFound: 'SubsetNotFound',
  HostNotFound: 'BackendNotFound',
  HostNotExported: 'HostNotExported',
  DestinationRuleHostNotFound: 'HostNotFound',
  RouteGroupNotFound: 'RouteGroupNotFound',
  ServerNotFound: 'ServerNotFound',
  AuthenticationNotFound: 'AuthenticationNotFound',
};

function condition(
  type: Condition['type'],
  ok: boolean,
  reason: string,
  message: string,
  generation?: number,
): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

function parentRefOf(parent: RouteParent): Record<string, string | number> {
  const group = parent.kind === 'Gateway' ? 'gateway.networking.k8s.io' : '';
  return {
    group,
    kind: parent.kind,
    namespace: parent.namespace,
    name: parent.name,
    ...(parent.kind === 'Gateway' && parent.sectionName !== undefined
      ? { sectionName: parent.sectionName }
      : {}),
    ...(parent.port === undefined ? {} : { port: parent.port }),
  };
}

/** Accepted and ResolvedRefs of each parent weft serves (a Gateway of another controller gets none). */
function routeStatus(
  route: GatewayApiRouteModel,
  snapshot: MeshSnapshot,
  findings: readonly AnalysisFinding[],
  generation?: number,
): ResourceStatus {
  const gateways = snapshot.gateways ?? [];
  const missing = [
    ...new Set(
      [...route.rules.flatMap((r) => r.route.route ?? []), ...(route.streams ?? [])]
        .map((d) => d.host)
        .filter((h) => !snapshot.services.has(h)),
    ),
  ];
  const resolved =
    missing.length === 0
      ? condition('ResolvedRefs', true, 'ResolvedRefs', 'every backendRef resolves', generation)
      : condition(
          'ResolvedRefs',
          false,
          'BackendNotFound',
          `no service has host ${missing.join(', ')}`,
          generation,
        );
  const refused = findings.filter((f) => f.code === 'BackendNotPermitted');
  const refs =
    refused.length === 0
      ? resolved
      : condition(
          'ResolvedRefs',
          false,
          'RefNotPermitted',
          refused.map((f) => f.message).join('; '),
          generation,
        );
  const parents = route.parents
    .filter((p) => {
      if (p.kind !== 'Gateway') return true;
      const gateway = gateways.find(
        (g) => g.dialect === 'gateway-api' && g.namespace === p.namespace && g.name === p.name,
      );
      return gateway?.notServed === undefined;
    })
    .map((parent) => {
      const result = attach(route, parent, gateways);
      const accepted =
        result.outcome === 'attached'
          ? condition('Accepted', true, 'Accepted', 'attached', generation)
          : condition('Accepted', false, result.condition, result.reason, generation);
      return {
        parentRef: parentRefOf(parent),
        controllerName: CONTROLLER_NAME,
        conditions: [accepted, refs],
      };
    });
  return { parents };
}

/** The status of `resource` in `snapshot` (built with `namespaces`), with the analysis findings about it. */
export function resourceStatus(
  resource: Resource,
  snapshot: MeshSnapshot,
  findings: readonly AnalysisFinding[],
  namespaces: ReadonlySet<string>,
): ResourceStatus {
  const generation = resource.metadata.generation;
  const mine = findings.filter(
    (f) =>
      f.resource.kind === resource.kind &&
      f.resource.namespace === resource.metadata.namespace &&
      f.resource.name === resource.metadata.name,
  );
  const validationMessages = mine.map((f) => ({
    code: f.code,
    field: formatPath(f.path),
    message: f.message,
  }));
  const result = compileResource(resource, {
    domainSuffix: snapshot.mesh.domainSuffix,
    namespaces,
  });
  const extra = validationMessages.length === 0 ? {} : { validationMessages };
  if (result?.outcome === 'rejected')
    return {
      conditions: [condition('Accepted', false, 'Invalid', result.issues.join('; '), generation)],
      ...extra,
    };
  const kind = result?.compiled.kind;
  if (
    result?.outcome === 'compiled' &&
    (kind === 'HTTPRoute' || kind === 'GRPCRoute' || kind === 'TCPRoute' || kind === 'TLSRoute')
  )
    return { ...routeStatus(result.compiled.route, snapshot, mine, generation), ...extra };
  const refs = mine.filter((f) => REF_REASONS[f.code] !== undefined);
  return {
    conditions: [
      condition('Accepted', true, 'Accepted', 'in the mesh snapshot', generation),
      refs.length === 0
        ? condition('ResolvedRefs', true, 'ResolvedRefs', 'every reference resolves', generation)
        : condition(
            'ResolvedRefs',
            false,
            REF_REASONS[refs[0].code] ?? 'Invalid',
            refs.map((f) => f.message).join('; '),
            generation,
          ),
    ],
    ...extra,
  };
}
