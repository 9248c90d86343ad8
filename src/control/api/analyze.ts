// `POST /api/v1/analyze` and apply's analysis warnings: the stored resources, overlaid with a request's, analyzed with the registry's workloads.
import { analyze, namespacesOf, placeFinding } from '../../analysis/analyze.ts';
import { resourceStatus } from '../../analysis/status.ts';
import type { PlacedFinding } from '../../analysis/types.ts';
import type { Resource } from '../../config/resource.ts';
import { keyOf, resourceKeyString } from '../../config/resource.ts';
import { BadRequestError } from '../../errors.ts';
import type { CompileResult } from '../../model/compiled.ts';
import { buildSnapshot } from '../../model/snapshot.ts';
import type { MeshSettings, MeshSnapshot, Workload } from '../../model/types.ts';
import { CompiledStore } from '../compiled-store.ts';
import type { Store } from '../store/store.ts';
import { sendJson } from './http.ts';
import type { ApiRoute } from './server.ts';
import type { ParsedResource } from './sources.ts';
import { parseSources, toSourcesRequest } from './sources.ts';
import type { AnalyzeResponse } from './types.ts';

/** Analyzes what the store holds with `overlay` in place of (or added to) it; findings are placed in the overlay's files. */
export type MeshAnalyzer = (overlay: readonly ParsedResource[]) => PlacedFinding[];

export interface AnalyzerDeps {
  store: Store;
  /** The registry's live workloads. */
  workloads(): readonly Workload[];
  mesh: MeshSettings;
}

/**
 * Everything stored, with `overlay` in place, as a snapshot with the registry's workloads, and
 * what each resource compiled to. `mirror` keeps the stored resources compiled between calls, so
 * an analysis compiles only the overlay and what changed since the last one.
 */
function overlaid(deps: AnalyzerDeps, mirror: CompiledStore, overlay: readonly ParsedResource[]): Analyzed {
  const byKey = new Map<string, Resource>(deps.store.list().map((r) => [resourceKeyString(keyOf(r)), r]));
  for (const parsed of overlay)
    byKey.set(resourceKeyString(keyOf(parsed.resource)), unrevised(parsed.resource));
  const resources = [...byKey.values()];
  const workloads = [...deps.workloads()];
  mirror.sync(resources, workloads);
  const snapshot = buildSnapshot({ config: mirror.view(workloads), workloads, version: 0 });
  return { resources, snapshot, compiled: (r) => mirror.resultOf(r) };
}

/** One mirror per set of dependencies, shared by the analyzer and the status reporter. */
const mirrors = new WeakMap<AnalyzerDeps, CompiledStore>();

function mirrorOf(deps: AnalyzerDeps): CompiledStore {
  let mirror = mirrors.get(deps);
  if (!mirror) {
    mirror = new CompiledStore(deps.mesh);
    mirrors.set(deps, mirror);
  }
  return mirror;
}

interface Analyzed {
  resources: Resource[];
  snapshot: MeshSnapshot;
  compiled: (resource: Resource) => CompileResult | undefined;
}

/** A request's resource as one not stored yet: a revision it names does not make it the stored one. */
function unrevised(resource: Resource): Resource {
  if (resource.metadata.resourceVersion === undefined) return resource;
  const { resourceVersion: _, ...metadata } = resource.metadata;
  return { ...resource, metadata };
}

/**
 * Whether hosts and selectors can be judged: weft learns workloads when their sidecars connect,
 * so a control plane that knows none yet (configuration applied before the services start) has
 * nothing to judge them against, and saying "no such host" for every route would be noise.
 */
function workloadsKnown(snapshot: MeshSnapshot): boolean {
  return snapshot.workloads.length > 0;
}

/** Adds `status` to stored resources: what weft made of each (`weft get -o yaml`). */
export type StatusReporter = (resources: readonly Resource[]) => Resource[];

export function statusReporter(deps: AnalyzerDeps): StatusReporter {
  const mirror = mirrorOf(deps);
  return (shown) => {
    if (shown.length === 0) return [];
    const { resources, snapshot, compiled } = overlaid(deps, mirror, []);
    const findings = analyze({ resources, snapshot, compiled, workloadsKnown: workloadsKnown(snapshot) });
    const namespaces = namespacesOf({ resources, snapshot });
    return shown.map((r) => ({ ...r, status: resourceStatus(r, snapshot, findings, namespaces) }));
  };
}

export function meshAnalyzer(deps: AnalyzerDeps): MeshAnalyzer {
  const mirror = mirrorOf(deps);
  return (overlay) => {
    const given = new Map(overlay.map((p) => [resourceKeyString(keyOf(p.resource)), p]));
    const { resources, snapshot, compiled } = overlaid(deps, mirror, overlay);
    return analyze({ resources, snapshot, compiled, workloadsKnown: workloadsKnown(snapshot) }).map(
      (finding) =>
        placeFinding(finding, (f) => {
          const parsed = given.get(resourceKeyString(f.resource));
          if (parsed === undefined) return undefined;
          return { file: parsed.location.file, line: parsed.location.line, ...parsed.place?.(f.path) };
        }),
    );
  };
}

/**
 * The route: `GET` analyzes what is stored; `POST` with `sources` analyzes them over the stored
 * resources (`{}`: the store alone).
 */
export function analyzeRoute(analyzer: MeshAnalyzer): ApiRoute {
  return {
    path: '/api/v1/analyze',
    methods: {
      GET: ({ res }) => sendJson(res, 200, { findings: analyzer([]) } satisfies AnalyzeResponse),
      POST: async ({ readJson, res }) => {
        const body = await readJson();
        if (typeof body !== 'object' || body === null || Array.isArray(body))
          throw new BadRequestError(
            'request body: must be an object ({} analyzes what the control plane holds)',
          );
        const sources = (body as { sources?: unknown }).sources;
        const empty = sources === undefined || (Array.isArray(sources) && sources.length === 0);
        const overlay = empty ? [] : parseSources(toSourcesRequest(body)).resources;
        const response: AnalyzeResponse = { findings: analyzer(overlay) };
        sendJson(res, 200, response);
      },
    },
  };
}
