// Request path normalisation as Envoy's HCM does it (normalize_path, merge_slashes, path_with_escaped_slashes_action).
import { checkFields, type Msg, msg, str, unsupported } from '../common/fields.ts';

/** envoy HCM `path_with_escaped_slashes_action`. */
export type EscapedSlashesAction =
  | 'KEEP_UNCHANGED'
  | 'REJECT_REQUEST'
  | 'UNESCAPE_AND_REDIRECT'
  | 'UNESCAPE_AND_FORWARD';

/** What the HCM does to a request's path before filters and routing see it (and before the upstream does). */
export interface PathNormalizationConfig {
  /** RFC 3986 normalisation: unreserved escapes decoded, `\` as `/`, `.` and `..` segments removed. */
  normalizePath: boolean;
  /** `//` (and longer runs) become `/`. */
  mergeSlashes: boolean;
  escapedSlashes: EscapedSlashesAction;
}

/** Nothing changed (Envoy's defaults when the fields are absent). */
export const NO_NORMALIZATION: PathNormalizationConfig = Object.freeze({
  normalizePath: false,
  mergeSlashes: false,
  escapedSlashes: 'KEEP_UNCHANGED',
});

/** The outcome for one path: the path to use, a 400, or a redirect to the unescaped path. */
export type NormalizedPath =
  | { kind: 'path'; path: string }
  | { kind: 'reject' }
  | { kind: 'redirect'; path: string };

const ACTIONS: readonly EscapedSlashesAction[] = [
  'KEEP_UNCHANGED',
  'REJECT_REQUEST',
  'UNESCAPE_AND_REDIRECT',
  'UNESCAPE_AND_FORWARD',
];

/** Reads the HCM's `normalize_path`, `merge_slashes`, `path_with_escaped_slashes_action`. */
export function compilePathNormalization(c: Msg, where: string): PathNormalizationConfig {
  const np = msg(c.normalizePath);
  if (np) checkFields(np, `${where}.normalize_path`, ['value']);
  const action = str(c.pathWithEscapedSlashesAction) || 'KEEP_UNCHANGED';
  if (action === 'IMPLEMENTATION_SPECIFIC_DEFAULT') return compileWith(np, c, 'KEEP_UNCHANGED');
  if (!(ACTIONS as readonly string[]).includes(action))
    unsupported(`${where}.path_with_escaped_slashes_action`, `'${action}'`);
  return compileWith(np, c, action as EscapedSlashesAction);
}

function compileWith(
  np: Msg | undefined,
  c: Msg,
  escapedSlashes: EscapedSlashesAction,
): PathNormalizationConfig {
  return { normalizePath: np?.value === true, mergeSlashes: c.mergeSlashes === true, escapedSlashes };
}

const ESCAPED_SLASH = /%2f|%5c/i;
const UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * Applies `config` to a request path (`/p?q`): the query is left as it is. The order is Envoy's:
 * escaped slashes first, then RFC 3986 normalisation, then merging slashes.
 */
export function normalizeRequestPath(path: string, config: PathNormalizationConfig): NormalizedPath {
  if (config === NO_NORMALIZATION || path === '*' || path === '') return { kind: 'path', path };
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  let unescaped = false;
  if (config.escapedSlashes !== 'KEEP_UNCHANGED' && ESCAPED_SLASH.test(p)) {
    if (config.escapedSlashes === 'REJECT_REQUEST') return { kind: 'reject' };
    p = p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
    unescaped = true;
  }
  if (config.normalizePath) p = normalizeSegments(p);
  if (config.mergeSlashes) p = p.replace(/\/{2,}/g, '/');
  const out = p + query;
  if (unescaped && config.escapedSlashes === 'UNESCAPE_AND_REDIRECT') return { kind: 'redirect', path: out };
  return { kind: 'path', path: out };
}

/**
 * RFC 3986 normalisation as Envoy's `normalize_path` (Chromium's URL canonicaliser): escapes of
 * unreserved characters decoded (`%61` → `a`), other escapes upper-cased, `\` read as `/`, and
 * `.` and `..` segments removed. So `/public/../admin`, `/%61dmin` and `/x\..\admin` are `/admin`.
 */
export function normalizeSegments(path: string): string {
  let p = path.includes('%')
    ? path
        .replace(UNRESERVED, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
        .replace(/%[0-9a-f]{2}/gi, (code) => code.toUpperCase())
    : path;
  if (p.includes('\\')) p = p.replace(/\\/g, '/');
  if (!p.includes('.')) return p;
  const out: string[] = [];
  const segments = p.split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length > 1) out.pop();
      if (last) out.push('');
    } else out.push(segment);
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : `/${joined}`;
}
