// Label selectors: a selector matches labels that contain every one of its key/value pairs.
import type { Labels } from './types.ts';

/** True when `labels` has every key of `selector` with the same value (an empty selector matches all). */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}
