// Deterministic orderings for snapshot contents (code-unit string order, never locale-dependent).
import type { Workload } from './types.ts';

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** By namespace, then name. */
export function byNamespaceName(
  a: { namespace: string; name: string },
  b: { namespace: string; name: string },
): number {
  return compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name);
}

/** By namespace, name, then uid (unique), so workload lists never depend on input order. */
export function byWorkload(a: Workload, b: Workload): number {
  return byNamespaceName(a, b) || compareStrings(a.uid, b.uid);
}
