// String, header and query-parameter matchers of Envoy's route API, compiled once per RouteConfiguration.
import type { RE2JS } from 're2js';
import { checkFields, list, type Msg, msg, num, str, unsupported, wrappedBool } from '../../common/fields.ts';
import { re2 } from '../../common/re2.ts';
import type { RequestHead } from '../request-head.ts';

/** envoy.type.matcher.v3.StringMatcher, compiled. */
export interface StringMatcher {
  kind: 'exact' | 'prefix' | 'suffix' | 'contains' | 'regex';
  /** The literal (lowercased when ignoreCase). */
  value: string;
  regex?: Regex;
  ignoreCase: boolean;
}

/**
 * A compiled regex with RE2 syntax and semantics, matched in time linear in the input (re2js, a
 * JavaScript port of RE2), as Envoy's `safe_regex`: no pattern can make a request stall the proxy.
 */
export type Regex = RE2JS;

/** envoy.config.route.v3.HeaderMatcher, compiled. */
export interface HeaderMatcher {
  name: string;
  kind: 'present' | 'string' | 'range';
  /** For `present`: whether the header must be present (true) or absent (false). */
  present: boolean;
  string?: StringMatcher;
  range?: { start: number; end: number };
  invert: boolean;
  treatMissingAsEmpty: boolean;
}

/** envoy.config.route.v3.QueryParameterMatcher, compiled. */
export interface QueryParameterMatcher {
  name: string;
  /** Absent: the parameter must merely be present. */
  string?: StringMatcher;
}

/**
 * Compiles an RE2 pattern (`flags` 'i': case-insensitive). Match it with `testExact` (Envoy's
 * full match) or `matcher(s).replaceAll`. Syntax RE2 lacks (lookaround, backreferences) is refused.
 */
export function fullRegex(pattern: string, where: string, flags = ''): Regex {
  try {
    const RE2 = re2();
    return RE2.compile(pattern, flags.includes('i') ? RE2.CASE_INSENSITIVE : 0);
  } catch (err) {
    return unsupported(where, `regex '${pattern}' (${(err as Error).message})`);
  }
}

export function compileStringMatcher(m: Msg, where: string): StringMatcher {
  checkFields(m, where, ['exact', 'prefix', 'suffix', 'contains', 'safeRegex', 'ignoreCase', 'matchPattern']);
  const ignoreCase = m.ignoreCase === true;
  const lower = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (typeof m.exact === 'string') return { kind: 'exact', value: lower(m.exact), ignoreCase };
  if (typeof m.prefix === 'string' && m.prefix !== '')
    return { kind: 'prefix', value: lower(m.prefix), ignoreCase };
  if (typeof m.suffix === 'string' && m.suffix !== '')
    return { kind: 'suffix', value: lower(m.suffix), ignoreCase };
  if (typeof m.contains === 'string' && m.contains !== '')
    return { kind: 'contains', value: lower(m.contains), ignoreCase };
  const re = msg(m.safeRegex);
  if (re) {
    const pattern = str(re.regex);
    return {
      kind: 'regex',
      value: pattern,
      regex: fullRegex(pattern, where, ignoreCase ? 'i' : ''),
      ignoreCase,
    };
  }
  // An empty StringMatcher (all fields default) is an exact match on ''.
  return { kind: 'exact', value: '', ignoreCase };
}

export function matchString(m: StringMatcher, input: string): boolean {
  const v = m.ignoreCase ? input.toLowerCase() : input;
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'suffix':
      return v.endsWith(m.value);
    case 'contains':
      return v.includes(m.value);
    case 'regex':
      return m.regex!.testExact(input);
  }
}

const HEADER_FIELDS = [
  'name',
  'exactMatch',
  'safeRegexMatch',
  'rangeMatch',
  'presentMatch',
  'prefixMatch',
  'suffixMatch',
  'containsMatch',
  'stringMatch',
  'invertMatch',
  'treatMissingHeaderAsEmpty',
];

export function compileHeaderMatcher(h: Msg, where: string): HeaderMatcher {
  checkFields(h, where, HEADER_FIELDS);
  const name = str(h.name).toLowerCase();
  const base = {
    name,
    invert: h.invertMatch === true,
    treatMissingAsEmpty: h.treatMissingHeaderAsEmpty === true,
  };
  const lit = (kind: StringMatcher['kind'], value: string): HeaderMatcher => ({
    ...base,
    kind: 'string',
    present: true,
    string: { kind, value, ignoreCase: false },
  });
  if (typeof h.exactMatch === 'string' && h.exactMatch !== '') return lit('exact', h.exactMatch);
  if (typeof h.prefixMatch === 'string' && h.prefixMatch !== '') return lit('prefix', h.prefixMatch);
  if (typeof h.suffixMatch === 'string' && h.suffixMatch !== '') return lit('suffix', h.suffixMatch);
  if (typeof h.containsMatch === 'string' && h.containsMatch !== '') return lit('contains', h.containsMatch);
  const sre = msg(h.safeRegexMatch);
  if (sre) {
    const pattern = str(sre.regex);
    return {
      ...base,
      kind: 'string',
      present: true,
      string: { kind: 'regex', value: pattern, regex: fullRegex(pattern, where), ignoreCase: false },
    };
  }
  const sm = msg(h.stringMatch);
  if (sm)
    return {
      ...base,
      kind: 'string',
      present: true,
      string: compileStringMatcher(sm, `${where}.string_match`),
    };
  const range = msg(h.rangeMatch);
  if (range)
    return { ...base, kind: 'range', present: true, range: { start: num(range.start), end: num(range.end) } };
  if (h.presentMatch !== undefined && h.presentMatch !== null)
    return { ...base, kind: 'present', present: h.presentMatch === true };
  // No match specifier: Envoy treats it as an exact match on the empty value... except that the
  // historical behaviour (and Istio's use) is "header present". Follow Envoy v3: present match.
  return { ...base, kind: 'present', present: true };
}

export function matchHeader(m: HeaderMatcher, head: RequestHead): boolean {
  let value = m.name === ':authority' || m.name === 'host' ? head.authority : undefined;
  if (m.name === ':method') value = head.method;
  else if (m.name === ':path') value = head.path;
  else if (m.name === ':scheme') value = head.scheme;
  else if (value === undefined) value = head.getAll(m.name);
  if (value === undefined && m.treatMissingAsEmpty) value = '';
  let result: boolean;
  if (m.kind === 'present') {
    result = (value !== undefined) === m.present;
  } else if (value === undefined) {
    // A missing header never matches a value matcher, even inverted (Envoy semantics).
    return false;
  } else if (m.kind === 'range') {
    const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
    result = n >= m.range!.start && n < m.range!.end;
  } else {
    result = matchString(m.string!, value);
  }
  return m.invert ? !result : result;
}

export function compileQueryMatcher(q: Msg, where: string): QueryParameterMatcher {
  checkFields(q, where, ['name', 'stringMatch', 'presentMatch']);
  const sm = msg(q.stringMatch);
  return { name: str(q.name), string: sm ? compileStringMatcher(sm, `${where}.string_match`) : undefined };
}

/** Parses the query string of a path into name → first value (percent-decoded). */
export function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  for (const part of path.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : decode(part.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function matchQuery(m: QueryParameterMatcher, query: Map<string, string>): boolean {
  const value = query.get(m.name);
  if (value === undefined) return false;
  return m.string ? matchString(m.string, value) : true;
}

/** Compiles a list of header matchers under `where`. */
export function compileHeaderMatchers(value: unknown, where: string): HeaderMatcher[] {
  return list(value).map((h, i) => compileHeaderMatcher(h, `${where}.headers[${i}]`));
}

/** `case_sensitive` of a RouteMatch (BoolValue, default true). */
export function caseSensitive(value: unknown): boolean {
  return wrappedBool(value, true);
}
