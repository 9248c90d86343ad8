// What `weft analyze` reports: one finding per problem, tied to a resource and a field, with a fix hint.
import type { FieldPath } from '../config/check.ts';
import type { ResourceKey } from '../config/resource.ts';

/** The kinds of problem the analyzers find (stable names, as istioctl's message types). */
export type AnalysisCode =
  | 'SubsetNotFound'
  | 'HostNotFound'
  | 'HostNotExported'
  | 'DestinationRuleHostNotFound'
  | 'ConflictingVirtualServices'
  | 'RouteNotAttached'
  | 'BackendNotPermitted'
  | 'SelectorMatchesNothing'
  | 'ProxylessUnsupported'
  | 'RouteGroupNotFound'
  | 'ServerNotFound'
  | 'AuthenticationNotFound';

/** One problem: valid YAML that is wrong as a mesh. */
export interface AnalysisFinding {
  code: AnalysisCode;
  resource: ResourceKey;
  /** The field the problem is about (`spec.http[0].route[1].destination.subset`). */
  path: FieldPath;
  message: string;
  /** What to change. */
  hint: string;
}

/** A finding placed in a source file, as the CLI and the API show it. */
export interface PlacedFinding {
  code: AnalysisCode;
  kind: string;
  namespace: string;
  name: string;
  /** `spec.http[0]...` */
  field: string;
  message: string;
  hint: string;
  /** Where the field is written, when the resource came from a file in this request. */
  file?: string;
  line?: number;
  column?: number;
}
