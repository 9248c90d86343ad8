// Readers that check one field of an untrusted document and return its typed value, reporting issues by path.
import type { Check, FieldPath } from './check.ts';
import { parseDuration } from './duration.ts';

/** Reads one value at `path`; returns undefined (after reporting an issue) when it is not acceptable. */
export type Reader<T> = (check: Check, value: unknown, path: FieldPath) => T | undefined;

/** What an object accepts besides the fields its reader takes. */
export interface ObjectRules {
  /** Real fields of the dialect that weft does not implement yet, with a note on what to do instead. */
  unsupported?: Readonly<Record<string, string>>;
}

export type PlainObject = Record<string, unknown>;

/**
 * Builds a model object from fields that may be undefined, leaving those out (model objects
 * carry no `undefined` values, so they compare and serialise cleanly).
 */
export function defined<T extends object>(fields: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out as T;
}

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a value for messages: `a list`, `"abc"`, `42`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

/**
 * The fields of one map in a document. Every key a reader reads (or explicitly ignores) is known; `finish`
 * reports the keys nobody asked about, as unsupported (known dialect fields weft lacks) or unknown.
 */
export class Fields {
  readonly check: Check;
  readonly value: PlainObject;
  readonly path: FieldPath;
  private readonly rules: ObjectRules;
  private readonly asked = new Set<string>();

  constructor(check: Check, value: PlainObject, path: FieldPath, rules: ObjectRules = {}) {
    this.check = check;
    this.value = value;
    this.path = path;
    this.rules = rules;
  }

  /** The path of a field of this map. */
  at(key: string): FieldPath {
    return [...this.path, key];
  }

  /**
   * Whether the field is present (YAML `null`, as in `timeout:`, counts as absent, as in
   * Kubernetes). Asking does not make a field known: only reading it does.
   */
  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  /** Reads an optional field. */
  optional<T>(key: string, read: Reader<T>): T | undefined {
    this.asked.add(key);
    if (!this.has(key)) return undefined;
    return read(this.check, this.value[key], this.at(key));
  }

  /** Reads a field that must be present. */
  required<T>(key: string, read: Reader<T>): T | undefined {
    this.asked.add(key);
    if (!this.has(key)) {
      this.check.error(this.at(key), `field "${key}" is required`, 'missing');
      return undefined;
    }
    return read(this.check, this.value[key], this.at(key));
  }

  /**
   * Reads `key`, or else a field with another name that means the same (an old or common
   * misspelling), warning that `key` is the right name. Both at once is an issue.
   */
  aliased<T>(key: string, alias: string, why: string, read: Reader<T>): T | undefined {
    this.asked.add(alias);
    if (!this.has(alias)) return this.optional(key, read);
    this.asked.add(key);
    if (this.has(key)) {
      this.check.error(this.at(alias), `set either "${key}" or "${alias}", not both`);
      return undefined;
    }
    this.check.warn(this.at(alias), `read as "${key}": ${why}`);
    return read(this.check, this.value[alias], this.at(alias));
  }

  /** Accepts a field without using it, with a warning that says so. */
  ignored(key: string, why: string): void {
    this.asked.add(key);
    if (this.has(key)) this.check.warn(this.at(key), `ignored: ${why}`);
  }

  /** Reports every field nobody asked about. Call once, after reading the fields you support. */
  finish(): void {
    const unsupported = this.rules.unsupported ?? {};
    for (const key of Object.keys(this.value)) {
      if (this.asked.has(key)) continue;
      if (Object.hasOwn(unsupported, key)) {
        const note = unsupported[key];
        this.check.error(
          this.at(key),
          `field ${key} is not supported by weft (yet)${note ? `: ${note}` : ''}`,
          'unsupported',
        );
        continue;
      }
      const guess = closest(key, [...this.asked, ...Object.keys(unsupported)]);
      this.check.error(
        this.at(key),
        `unknown field ${key}${guess === undefined ? '' : ` (did you mean ${guess}?)`}`,
        'unknown-field',
      );
    }
  }
}

/** Reads a map: checks it is one, lets `body` read its fields, then reports the fields left over. */
export function readObject<T>(
  check: Check,
  value: unknown,
  path: FieldPath,
  body: (fields: Fields) => T | undefined,
  rules: ObjectRules = {},
): T | undefined {
  if (!isPlainObject(value)) {
    check.error(path, `must be a map of fields, got ${describe(value)}`);
    return undefined;
  }
  const fields = new Fields(check, value, path, rules);
  const result = body(fields);
  fields.finish();
  return result;
}

/** A reader for a map whose fields `body` reads. */
export function object<T>(body: (fields: Fields) => T | undefined, rules: ObjectRules = {}): Reader<T> {
  return (check, value, path) => readObject(check, value, path, body, rules);
}

/** A reader for a list of items; `nonEmpty` reports an empty list. Items that fail are left out. */
export function list<T>(item: Reader<T>, options: { nonEmpty?: boolean } = {}): Reader<T[]> {
  return (check, value, path) => {
    if (!Array.isArray(value)) {
      check.error(path, `must be a list, got ${describe(value)}`);
      return undefined;
    }
    if (options.nonEmpty && value.length === 0) {
      check.error(path, 'must not be empty');
      return undefined;
    }
    const out: T[] = [];
    value.forEach((entry, index) => {
      const read = item(check, entry, [...path, index]);
      if (read !== undefined) out.push(read);
    });
    return out;
  };
}

/** A reader for a map of arbitrary keys (e.g. header names) to values read by `entry`. */
export function record<T>(
  entry: Reader<T>,
  key?: (name: string) => string | undefined,
): Reader<Record<string, T>> {
  return (check, value, path) => {
    if (!isPlainObject(value)) {
      check.error(path, `must be a map, got ${describe(value)}`);
      return undefined;
    }
    const out: Record<string, T> = {};
    for (const [name, raw] of Object.entries(value)) {
      const keyError = name === '__proto__' ? '"__proto__" cannot be used as a name here' : key?.(name);
      if (keyError !== undefined) {
        check.error([...path, name], keyError);
        continue;
      }
      const read = entry(check, raw, [...path, name]);
      if (read !== undefined) out[name] = read;
    }
    return out;
  };
}

export const string: Reader<string> = (check, value, path) => {
  if (typeof value === 'string') return value;
  check.error(
    path,
    `must be a string, got ${describe(value)}${typeof value === 'object' ? '' : ' (quote it)'}`,
  );
  return undefined;
};

/** A string that `rule` accepts (`rule` returns why not, or undefined). */
export function stringWith(rule: (text: string) => string | undefined): Reader<string> {
  return (check, value, path) => {
    const text = string(check, value, path);
    if (text === undefined) return undefined;
    const error = rule(text);
    if (error === undefined) return text;
    check.error(path, error);
    return undefined;
  };
}

export const nonEmptyString: Reader<string> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === '') {
    check.error(path, 'must not be empty');
    return undefined;
  }
  return text;
};

export const boolean: Reader<boolean> = (check, value, path) => {
  if (typeof value === 'boolean') return value;
  check.error(path, `must be true or false, got ${describe(value)}`);
  return undefined;
};

/** An integer within [min, max]. */
export function integer(min: number, max: number): Reader<number> {
  return (check, value, path) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `between ${min} and ${max}`;
    check.error(path, `must be an integer ${range}, got ${describe(value)}`);
    return undefined;
  };
}

/** A number within [min, max]. */
export function numberIn(min: number, max: number): Reader<number> {
  return (check, value, path) => {
    if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) return value;
    check.error(path, `must be a number between ${min} and ${max}, got ${describe(value)}`);
    return undefined;
  };
}

export const port = integer(1, 65535);
export const count = integer(0, 2 ** 32 - 1);

/** One of `values`; `aliases` maps other accepted spellings onto them. */
export function oneOf<const T extends string>(
  values: readonly T[],
  aliases: Readonly<Record<string, T>> = {},
): Reader<T> {
  return (check, value, path) => {
    if (typeof value === 'string') {
      if ((values as readonly string[]).includes(value)) return value as T;
      if (Object.hasOwn(aliases, value)) return aliases[value];
    }
    check.error(path, `must be one of ${values.join(', ')}, got ${describe(value)}`);
    return undefined;
  };
}

/** A duration string in milliseconds; `min` (default 1) is the smallest accepted value. */
export function duration(min = 1): Reader<number> {
  return (check, value, path) => {
    if (typeof value !== 'string') {
      check.error(path, `must be a duration string like 1.5s, 500ms, 2m or 1h, got ${describe(value)}`);
      return undefined;
    }
    const parsed = parseDuration(value);
    if ('error' in parsed) {
      check.error(path, parsed.error);
      return undefined;
    }
    if (parsed.ms < min) {
      check.error(path, `duration must be at least ${min}ms, got "${value}"`);
      return undefined;
    }
    return parsed.ms;
  };
}

export const stringList = list(string);

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The candidate closest to `name` when it is close enough to be a likely misspelling. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  const lower = name.toLowerCase();
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
