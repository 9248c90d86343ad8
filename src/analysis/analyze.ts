// `weft analyze`: runs every analyzer over resources and the snapshot built from them (pure; no I/O).
import { formatPath } from '../config/check.ts';
import { compileResource } from '../config/compile.ts';
import type { Resource } from '../config/resource.ts';
import { keyOf } from '../config/resource.ts';
import type { CompileResult } from '../model/compiled.ts';
import type { HttpRouteGroupModel, MeshSnapshot, ReferenceGrantModel } from '../model/types.ts';
import type { ReadRoute, SelectingPolicy } from './attachment.ts';
import { backendsNotPermitted, policiesSelectingNothing, unattachedRoutes } from './attachment.ts';
import { linkerdRefsNotFound, type ReadLinkerdPart, serversSelectingNothing } from './linkerd.ts';
import { proxylessGaps } from './proxyless.ts';
import type { ReadVirtualService } from './routing.ts';
import {
  conflictingVirtualServices,
  hostsNotExported,
  rulesForNoService,
  undefinedSubsets,
  unknownHosts,
} from './routing.ts';
import { type ReadMatchedSplit, routeGroupsNotFound } from './smi.ts';
import type { AnalysisFinding, PlacedFinding } from './types.ts';

export interface AnalysisInput {
  /** The resources to analyze (the snapshot was built from them). */
  resources: readonly Resource[];
  snapshot: MeshSnapshot;
  /**
   * Whether the snapshot holds the mesh's workloads (a control plane's registry). Without them
   * (files alone) hosts and selectors cannot be judged, so those analyzers do not run.
   */
  workloadsKnown: boolean;
  /** What each resource compiled to, when the caller holds it (else each is compiled here). */
  compiled?: (resource: Resource) => CompileResult | undefined;
}

/** Every problem found, in resource order (kind, namespace, name) and then field order. */
export function analyze(input: AnalysisInput): AnalysisFinding[] {
  const { snapshot } = input;
  const services: ReadVirtualService[] = [];
  const rules: { key: ReturnType<typeof keyOf>; model: import('../model/types.ts').DestinationRuleModel }[] =
    [];
  const policies: SelectingPolicy[] = [];
  const routes: ReadRoute[] = [];
  const grants: ReferenceGrantModel[] = [];
  const splits: ReadMatchedSplit[] = [];
  const groups: HttpRouteGroupModel[] = [];
  const linkerd: ReadLinkerdPart[] = [];
  // Once for all resources: per resource it made an apply of N resources cost O(N × (N + workloads)).
  const namespaces = namespacesOf(input);
  for (const resource of input.resources) {
    const result =
      input.compiled?.(resource) ??
      compileResource(resource, { domainSuffix: snapshot.mesh.domainSuffix, namespaces });
    if (result?.outcome !== 'compiled') continue;
    const key = keyOf(resource);
    const c = result.compiled;
    if (c.kind === 'VirtualService' || c.kind === 'TrafficSplit')
      services.push({
        key,
        model: c.kind === 'VirtualService' ? c.virtualService : c.matchedSplit.split,
        ...(resource.kind === 'TrafficSplit' ? { destinationsAt: ['spec', 'backends'] } : {}),
      });
    else if (c.kind === 'DestinationRule') rules.push({ key, model: c.destinationRule });
    else if (c.kind === 'AuthorizationPolicy') policies.push({ key, ...c.authorizationPolicy });
    else if (c.kind === 'RequestAuthentication') policies.push({ key, ...c.requestAuthentication });
    else if (c.kind === 'PeerAuthentication') policies.push({ key, ...c.peerAuthentication });
    else if (
      c.kind === 'HTTPRoute' ||
      c.kind === 'GRPCRoute' ||
      c.kind === 'TCPRoute' ||
      c.kind === 'TLSRoute'
    )
      routes.push({ key, model: c.route, spec: resource.spec });
    else if (c.kind === 'ReferenceGrant') grants.push(c.referenceGrant);
    else if (c.kind === 'HTTPRouteGroup') groups.push(c.httpRouteGroup);
    else if (c.kind === 'LinkerdAuthorization') linkerd.push({ key, part: c.part });
    if (c.kind === 'TrafficSplit') splits.push({ key, model: c.matchedSplit });
  }
  const findings = [
    ...undefinedSubsets(snapshot, services),
    ...hostsNotExported(snapshot, services),
    ...conflictingVirtualServices(services),
    ...unattachedRoutes(snapshot),
    ...backendsNotPermitted(routes, grants),
    ...proxylessGaps(snapshot, services, rules),
    ...routeGroupsNotFound(splits, groups),
    ...linkerdRefsNotFound(linkerd),
    ...(input.workloadsKnown
      ? [
          ...unknownHosts(snapshot, services),
          ...rulesForNoService(snapshot, rules),
          ...policiesSelectingNothing(snapshot, policies),
          ...serversSelectingNothing(snapshot, linkerd),
        ]
      : []),
  ];
  return findings.sort(
    (a, b) =>
      a.resource.kind.localeCompare(b.resource.kind) ||
      a.resource.namespace.localeCompare(b.resource.namespace) ||
      a.resource.name.localeCompare(b.resource.name) ||
      formatPath(a.path).localeCompare(formatPath(b.path)),
  );
}

/** Namespaces that exist for `name.ns` host qualification, as the snapshot counts them. */
export function namespacesOf(input: Omit<AnalysisInput, 'workloadsKnown'>): Set<string> {
  return new Set([
    'default',
    input.snapshot.mesh.rootNamespace,
    ...input.resources.map((r) => r.metadata.namespace),
    ...input.snapshot.workloads.map((w) => w.namespace),
  ]);
}

/** Where a field of a resource is written: file, line, column (absent for stored resources). */
export type Locate = (
  finding: AnalysisFinding,
) => { file: string; line?: number; column?: number } | undefined;

/** A finding in the form the API and the CLI show. */
export function placeFinding(finding: AnalysisFinding, locate: Locate = () => undefined): PlacedFinding {
  return {
    code: finding.code,
    kind: finding.resource.kind,
    namespace: finding.resource.namespace,
    name: finding.resource.name,
    field: formatPath(finding.path),
    message: finding.message,
    hint: finding.hint,
    ...locate(finding),
  };
}
