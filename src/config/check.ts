// Collects the issues and warnings found while reading one resource, each tied to a field path.
import type { ConfigIssueReason } from '../errors.ts';

/** One step into a document: a map key or a list index. */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** Something wrong (issue) or worth saying (warning) about one field. */
export interface Finding {
  path: FieldPath;
  message: string;
  /** What kind of problem an issue is; absent on warnings. */
  reason?: ConfigIssueReason;
}

/** The sink every reader writes into; one per resource. */
export class Check {
  readonly issues: Finding[] = [];
  readonly warnings: Finding[] = [];

  /** Records that the field at `path` is invalid. */
  error(path: FieldPath, message: string, reason: ConfigIssueReason = 'invalid'): void {
    this.issues.push({ path, message, reason });
  }

  /** Records something the user should know about a field that was accepted. */
  warn(path: FieldPath, message: string): void {
    this.warnings.push({ path, message });
  }

  /** Number of issues so far; compare before and after a step to see whether it added any. */
  get issueCount(): number {
    return this.issues.length;
  }
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `['spec', 'http', 0, 'route', 1, 'weight']` → `spec.http[0].route[1].weight`; odd keys are quoted. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
