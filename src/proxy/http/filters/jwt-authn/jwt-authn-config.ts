// envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication parsed once: providers, requirement trees, rule matches.
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  num,
  str,
  unsupported,
  wrappedBool,
} from '../../../common/fields.ts';
import type { RequestHead } from '../../request-head.ts';
import {
  compileHeaderMatchers,
  compileQueryMatcher,
  compileStringMatcher,
  fullRegex,
  type HeaderMatcher,
  matchHeader,
  matchQuery,
  parseQuery,
  type QueryParameterMatcher,
  type Regex,
  type StringMatcher,
} from '../../router/matchers.ts';
import { DEFAULT_LOCATIONS, type TokenLocation } from './extractor.ts';
import { parseJwks } from './jwks.ts';
import { type JwksSource, LocalJwks, RemoteJwks } from './jwks-source.ts';
import type { ClaimRules } from './jwt.ts';

/** One JwtProvider, compiled. */
export interface ProviderConfig {
  /** Its key in `providers`. */
  name: string;
  claims: ClaimRules;
  /** `subjects`: the `sub` claim must match. */
  subjects?: StringMatcher;
  locations: readonly TokenLocation[];
  keys: JwksSource;
  /** Keep the token in the request after verification. */
  forward: boolean;
  forwardPayloadHeader?: string;
  padForwardPayloadHeader: boolean;
  payloadInMetadata?: string;
  headerInMetadata?: string;
  failedStatusInMetadata?: string;
  /** Claims whose string values become lists of words in the metadata copy of the payload. */
  spaceDelimitedClaims: ReadonlySet<string>;
  claimToHeaders: readonly { header: string; claim: string }[];
}

/** A JwtRequirement tree (Envoy's verifier tree). */
export type Requirement =
  | { kind: 'provider'; provider: ProviderConfig; audiences?: readonly string[] }
  /** `requires_any`; allow_missing / allow_missing_or_failed entries become flags, as in Envoy. */
  | { kind: 'any'; children: readonly Requirement[]; allowMissing: boolean; allowMissingOrFailed: boolean }
  | { kind: 'all'; children: readonly Requirement[] }
  /** A bare allow_missing (`allowFailed` false) or allow_missing_or_failed, over every provider. */
  | { kind: 'allow'; allowFailed: boolean }
  /** No requirement: nothing is verified. */
  | { kind: 'allowAll' };

/** A RequirementRule's RouteMatch. */
export interface RuleMatch {
  path: 'prefix' | 'path' | 'regex' | 'separated';
  value: string;
  regex?: Regex;
  caseSensitive: boolean;
  headers: readonly HeaderMatcher[];
  query: readonly QueryParameterMatcher[];
}

export interface JwtAuthnConfig {
  providers: readonly ProviderConfig[];
  rules: readonly { match: RuleMatch; requirement: Requirement }[];
  bypassCorsPreflight: boolean;
  /** Send failures without a body (`strip_failure_response`). */
  stripFailureResponse: boolean;
  statPrefix: string;
}

const PROVIDER_FIELDS = [
  'issuer',
  'audiences',
  'subjects',
  'requireExpiration',
  'maxLifetime',
  'remoteJwks',
  'localJwks',
  'forward',
  'fromHeaders',
  'fromParams',
  'fromCookies',
  'forwardPayloadHeader',
  'padForwardPayloadHeader',
  'payloadInMetadata',
  'normalizePayloadInMetadata',
  'headerInMetadata',
  'failedStatusInMetadata',
  'clockSkewSeconds',
  'jwtCacheConfig',
  'claimToHeaders',
  'clearRouteCache',
];

/** Envoy's defaults for remote JWKS. */
const DEFAULT_CACHE_DURATION_MS = 600_000;
const DEFAULT_FAILED_REFETCH_MS = 1_000;
const DEFAULT_CLOCK_SKEW_SECONDS = 60;

function compileKeys(p: Msg, where: string): JwksSource {
  const remote = msg(p.remoteJwks);
  const local = msg(p.localJwks);
  if (remote && local) return unsupported(where, 'both remote_jwks and local_jwks');
  if (local) {
    checkFields(local, `${where}.local_jwks`, ['inlineString', 'inlineBytes']);
    const text =
      typeof local.inlineString === 'string'
        ? local.inlineString
        : Buffer.from(str(local.inlineBytes), 'base64').toString('utf8');
    try {
      return new LocalJwks(parseJwks(text));
    } catch (error) {
      return unsupported(
        `${where}.local_jwks`,
        `a key set that cannot be used (${(error as Error).message})`,
      );
    }
  }
  if (!remote) return unsupported(where, 'a provider without remote_jwks or local_jwks');
  const rw = `${where}.remote_jwks`;
  checkFields(remote, rw, ['httpUri', 'cacheDuration', 'asyncFetch']);
  const httpUri = msg(remote.httpUri) ?? {};
  // `cluster` names the Envoy cluster to fetch through; weft's proxy fetches the URI directly.
  checkFields(httpUri, `${rw}.http_uri`, ['uri', 'cluster', 'timeout']);
  const uri = str(httpUri.uri);
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return unsupported(`${rw}.http_uri`, `uri '${uri}'`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    unsupported(`${rw}.http_uri`, `uri scheme '${parsed.protocol}'`);
  const asyncFetch = msg(remote.asyncFetch);
  if (asyncFetch) checkFields(asyncFetch, `${rw}.async_fetch`, ['fastListener', 'failedRefetchDuration']);
  return new RemoteJwks({
    uri,
    timeoutMs: Math.max(1, durationMs(httpUri.timeout, 1_000)),
    cacheDurationMs: durationMs(remote.cacheDuration, DEFAULT_CACHE_DURATION_MS),
    failedRefetchMs: durationMs(asyncFetch?.failedRefetchDuration, DEFAULT_FAILED_REFETCH_MS),
  });
}

function compileLocations(p: Msg, where: string): TokenLocation[] {
  const locations: TokenLocation[] = [];
  for (const [i, h] of list(p.fromHeaders).entries()) {
    checkFields(h, `${where}.from_headers[${i}]`, ['name', 'valuePrefix']);
    locations.push({ kind: 'header', name: str(h.name).toLowerCase(), prefix: str(h.valuePrefix) });
  }
  for (const name of (p.fromParams as string[] | undefined) ?? []) locations.push({ kind: 'param', name });
  for (const name of (p.fromCookies as string[] | undefined) ?? []) locations.push({ kind: 'cookie', name });
  return locations.length > 0 ? locations : [...DEFAULT_LOCATIONS];
}

function compileProvider(name: string, p: Msg, where: string): ProviderConfig {
  checkFields(p, where, PROVIDER_FIELDS);
  const subjects = msg(p.subjects);
  const normalize = msg(p.normalizePayloadInMetadata);
  if (normalize) checkFields(normalize, `${where}.normalize_payload_in_metadata`, ['spaceDelimitedClaims']);
  const claimToHeaders = list(p.claimToHeaders).map((c, i) => {
    checkFields(c, `${where}.claim_to_headers[${i}]`, ['headerName', 'claimName']);
    return { header: str(c.headerName).toLowerCase(), claim: str(c.claimName) };
  });
  const optional = (value: unknown) => (str(value) === '' ? undefined : str(value));
  return {
    name,
    claims: {
      issuer: str(p.issuer),
      audiences: (p.audiences as string[] | undefined) ?? [],
      requireExpiration: p.requireExpiration === true,
      maxLifetimeSeconds: Math.floor(durationMs(p.maxLifetime, 0) / 1000),
      clockSkewSeconds:
        p.clockSkewSeconds === undefined ? DEFAULT_CLOCK_SKEW_SECONDS : num(p.clockSkewSeconds),
    },
    subjects: subjects ? compileStringMatcher(subjects, `${where}.subjects`) : undefined,
    locations: compileLocations(p, where),
    keys: compileKeys(p, where),
    forward: p.forward === true,
    forwardPayloadHeader: optional(p.forwardPayloadHeader)?.toLowerCase(),
    padForwardPayloadHeader: p.padForwardPayloadHeader === true,
    payloadInMetadata: optional(p.payloadInMetadata),
    headerInMetadata: optional(p.headerInMetadata),
    failedStatusInMetadata: optional(p.failedStatusInMetadata),
    spaceDelimitedClaims: new Set((normalize?.spaceDelimitedClaims as string[] | undefined) ?? []),
    claimToHeaders,
  };
}

/** snake_case names arrive camel-cased as map keys (the ADS client camelizes keys): look up both spellings. */
function lookup<T>(byName: ReadonlyMap<string, T>, name: string): T | undefined {
  return byName.get(name) ?? byName.get(name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function compileRequirement(
  r: Msg,
  where: string,
  providers: ReadonlyMap<string, ProviderConfig>,
  depth: number,
): Requirement {
  if (depth > 32) return unsupported(where, 'requirements nested deeper than 32 levels');
  checkFields(r, where, [
    'providerName',
    'providerAndAudiences',
    'requiresAny',
    'requiresAll',
    'allowMissingOrFailed',
    'allowMissing',
  ]);
  const provider = (name: string, at: string) =>
    lookup(providers, name) ?? unsupported(at, `required provider ['${name}'], which is not configured`);
  if (typeof r.providerName === 'string' && r.providerName !== '')
    return { kind: 'provider', provider: provider(r.providerName, `${where}.provider_name`) };
  const pa = msg(r.providerAndAudiences);
  if (pa) {
    checkFields(pa, `${where}.provider_and_audiences`, ['providerName', 'audiences']);
    return {
      kind: 'provider',
      provider: provider(str(pa.providerName), `${where}.provider_and_audiences`),
      audiences: (pa.audiences as string[] | undefined) ?? [],
    };
  }
  const group = (value: Msg, at: string) =>
    list(value.requirements).map((child, i) =>
      compileRequirement(child, `${at}.requirements[${i}]`, providers, depth + 1),
    );
  const any = msg(r.requiresAny);
  if (any) {
    checkFields(any, `${where}.requires_any`, ['requirements']);
    const all = group(any, `${where}.requires_any`);
    return {
      kind: 'any',
      children: all.filter((c) => c.kind !== 'allow'),
      allowMissing: all.some((c) => c.kind === 'allow' && !c.allowFailed),
      allowMissingOrFailed: all.some((c) => c.kind === 'allow' && c.allowFailed),
    };
  }
  const every = msg(r.requiresAll);
  if (every) {
    checkFields(every, `${where}.requires_all`, ['requirements']);
    return { kind: 'all', children: group(every, `${where}.requires_all`) };
  }
  if (msg(r.allowMissingOrFailed)) return { kind: 'allow', allowFailed: true };
  if (msg(r.allowMissing)) return { kind: 'allow', allowFailed: false };
  return { kind: 'allowAll' };
}

function compileRuleMatch(m: Msg, where: string): RuleMatch {
  checkFields(m, where, [
    'prefix',
    'path',
    'safeRegex',
    'pathSeparatedPrefix',
    'caseSensitive',
    'headers',
    'queryParameters',
  ]);
  const caseSensitive = wrappedBool(m.caseSensitive, true);
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const common = {
    caseSensitive,
    headers: compileHeaderMatchers(m.headers, where),
    query: list(m.queryParameters).map((q, i) => compileQueryMatcher(q, `${where}.query_parameters[${i}]`)),
  };
  if (typeof m.path === 'string' && m.path !== '') return { path: 'path', value: fold(m.path), ...common };
  const regex = msg(m.safeRegex);
  if (regex)
    return {
      path: 'regex',
      value: '',
      regex: fullRegex(str(regex.regex), where, caseSensitive ? '' : 'i'),
      ...common,
    };
  if (typeof m.pathSeparatedPrefix === 'string' && m.pathSeparatedPrefix !== '')
    return { path: 'separated', value: fold(m.pathSeparatedPrefix), ...common };
  return { path: 'prefix', value: fold(str(m.prefix)), ...common };
}

/** Whether a rule's RouteMatch matches the request (Envoy route semantics, without the query in the path). */
export function ruleMatches(m: RuleMatch, head: RequestHead): boolean {
  const raw = head.pathOnly();
  const p = m.caseSensitive || m.path === 'regex' ? raw : raw.toLowerCase();
  if (m.path === 'prefix' && !p.startsWith(m.value)) return false;
  if (m.path === 'path' && p !== m.value) return false;
  if (m.path === 'regex' && !m.regex!.testExact(p)) return false;
  if (
    m.path === 'separated' &&
    !(p === m.value || (p.startsWith(m.value) && p.charCodeAt(m.value.length) === 47))
  )
    return false;
  for (const h of m.headers) if (!matchHeader(h, head)) return false;
  if (m.query.length > 0) {
    const query = parseQuery(head.path);
    for (const q of m.query) if (!matchQuery(q, query)) return false;
  }
  return true;
}

/** Parses a JwtAuthentication (camelCase decoded form); throws UnsupportedFieldError (a NACK) on what weft cannot do. */
export function compileJwtAuthn(c: Msg, where: string): JwtAuthnConfig {
  checkFields(c, where, [
    'providers',
    'rules',
    'requirementMap',
    'bypassCorsPreflight',
    'statPrefix',
    'stripFailureResponse',
  ]);
  const providers = new Map<string, ProviderConfig>();
  for (const [name, p] of Object.entries(msg(c.providers) ?? {}))
    providers.set(name, compileProvider(name, msg(p) ?? {}, `${where}.providers[${name}]`));
  const requirementMap = new Map(
    Object.entries(msg(c.requirementMap) ?? {}).map(([k, v]) => [k, msg(v) ?? {}]),
  );
  const rules = list(c.rules).map((r, i) => {
    const rw = `${where}.rules[${i}]`;
    checkFields(r, rw, ['match', 'requires', 'requirementName']);
    const match = compileRuleMatch(msg(r.match) ?? {}, `${rw}.match`);
    let requires = msg(r.requires);
    if (typeof r.requirementName === 'string' && r.requirementName !== '') {
      requires = lookup(requirementMap, r.requirementName);
      if (requires === undefined)
        unsupported(
          `${rw}.requirement_name`,
          `requirement '${r.requirementName}', which is not in requirement_map`,
        );
    }
    const requirement: Requirement = requires
      ? compileRequirement(requires, `${rw}.requires`, providers, 0)
      : { kind: 'allowAll' };
    return { match, requirement };
  });
  return {
    providers: [...providers.values()],
    rules,
    bypassCorsPreflight: c.bypassCorsPreflight === true,
    stripFailureResponse: c.stripFailureResponse === true,
    statPrefix: str(c.statPrefix),
  };
}
