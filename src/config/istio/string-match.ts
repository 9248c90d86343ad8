// Istio StringMatch (`exact`, `prefix`, `regex`) and the regular expressions it may carry.
import { RE2JS } from 're2js';
import type { StringMatch } from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import type { Reader } from '../read.ts';
import { describe, isPlainObject } from '../read.ts';

/**
 * Why `pattern` cannot be used as a regex, or undefined. Envoy and weft's proxy both evaluate RE2
 * (weft through re2js, in linear time), so a pattern must be valid RE2: lookaround and
 * backreferences, which RE2 lacks, are refused here rather than when a proxy applies them.
 */
export function regexError(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern))
    return `regex "${pattern}" uses lookaround, which RE2 (Envoy's regex engine) lacks`;
  if (/\\[1-9]|\\k</.test(pattern)) return `regex "${pattern}" uses a backreference, which RE2 lacks`;
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return `regex "${pattern}" is not valid RE2: ${(error as Error).message}`;
  }
}

const KINDS = ['exact', 'prefix', 'regex'] as const;

/** Options for one StringMatch field. */
export interface StringMatchOptions {
  /** `{}` is allowed and means "present" (headers, query parameters). */
  allowEmpty?: boolean;
  /** `prefix` is allowed (Istio has no prefix match for query parameters). */
  allowPrefix?: boolean;
}

/** Reads a StringMatch; `null` stands for an allowed empty match (`{}`). */
export function readStringMatch(
  check: Check,
  value: unknown,
  path: FieldPath,
  options: StringMatchOptions = {},
): StringMatch | null | undefined {
  if (!isPlainObject(value)) {
    if (options.allowEmpty && (value === null || value === undefined)) return null;
    check.error(path, `must be a map with one of exact, prefix or regex, got ${describe(value)}`);
    return undefined;
  }
  const keys = Object.keys(value).filter((key) => value[key] !== null && value[key] !== undefined);
  for (const key of keys)
    if (!(KINDS as readonly string[]).includes(key)) {
      check.error(
        [...path, key],
        `unknown field ${key} (a string match has exact, prefix or regex)`,
        'unknown-field',
      );
      return undefined;
    }
  if (keys.length === 0) {
    if (options.allowEmpty) return null;
    check.error(path, 'must set one of exact, prefix or regex', 'missing');
    return undefined;
  }
  if (keys.length > 1) {
    check.error(path, `set only one of exact, prefix or regex, not ${keys.join(' and ')}`);
    return undefined;
  }
  const kind = keys[0] as (typeof KINDS)[number];
  const text = value[kind];
  if (typeof text !== 'string') {
    check.error([...path, kind], `must be a string, got ${describe(text)} (quote it)`);
    return undefined;
  }
  if (kind === 'prefix' && options.allowPrefix === false) {
    check.error([...path, kind], 'prefix matching is not available here; use exact or regex');
    return undefined;
  }
  if (kind === 'regex') {
    const error = regexError(text);
    if (error !== undefined) {
      check.error([...path, kind], error);
      return undefined;
    }
    return { regex: text };
  }
  return kind === 'exact' ? { exact: text } : { prefix: text };
}

export const stringMatch: Reader<StringMatch> = (check, value, path) =>
  readStringMatch(check, value, path) ?? undefined;
