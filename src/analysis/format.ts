// One line per finding, as `weft analyze` and `weft apply` print them.
import type { PlacedFinding } from './types.ts';

/** `vs.yaml:12:9: VirtualService default/reviews: spec.http[0]...: message (fix: hint) [SubsetNotFound]`. */
export function formatFinding(f: PlacedFinding): string {
  const where =
    f.file === undefined
      ? ''
      : `${f.file}${f.line === undefined ? '' : `:${f.line}${f.column === undefined ? '' : `:${f.column}`}`}: `;
  return `${where}${f.kind} ${f.namespace}/${f.name}: ${f.field}: ${f.message} (fix: ${f.hint}) [${f.code}]`;
}
