// Gateway API route rules → VirtualService-style HttpRoutes: backends, filters, timeouts, path semantics, precedence.
import type {
  CorsPolicy,
  HeaderOperations,
  HttpMatch,
  HttpRoute,
  MirrorPolicy,
  RetryPolicy,
  RouteDestination,
  StringMatch,
} from '../../model/types.ts';
import { toPercentages } from '../../model/weights.ts';
import { DEFAULT_RETRIABLE_STATUS_CODES, DEFAULT_RETRY_ON } from '../istio/http-route.ts';
import type { BackendRefValue } from './common.ts';

/** What a rule's filters ask for. */
export interface RuleFilters {
  requestHeaders?: HeaderOperations;
  responseHeaders?: HeaderOperations;
  redirect?: {
    scheme?: string;
    hostname?: string;
    /** ReplaceFullPath. */
    fullPath?: string;
    /** ReplacePrefixMatch. */
    prefix?: string;
    port?: number;
    statusCode: number;
  };
  rewrite?: { hostname?: string; fullPath?: string; prefix?: string };
  mirrors: MirrorPolicy[];
  cors?: CorsPolicy;
}

/** One match of a rule before it becomes HttpMatch entries. */
export interface RuleMatch {
  /** Absent for GRPCRoute service/method matches, which are given as `uri` directly. */
  path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  uri?: StringMatch;
  method?: string;
  headers: HttpMatch['headers'];
  queryParams: HttpMatch['queryParams'];
  /** Precedence of this match (higher first), compared element by element. */
  rank: number[];
}

/** Istio's ranking of URI matches in Gateway API conversion: Exact > PathPrefix > RegularExpression. */
export const URI_RANK = { exact: 3, prefix: 2, regex: 1 } as const;

/** Gateway API's precedence of one HTTPRoute match (see docs/gateways.md). */
export function httpMatchRank(
  path: RuleMatch['path'],
  method: string | undefined,
  headers: number,
  queries: number,
): number[] {
  const type = path?.type ?? 'PathPrefix';
  const value = path?.value ?? '/';
  const rank = type === 'Exact' ? URI_RANK.exact : type === 'PathPrefix' ? URI_RANK.prefix : URI_RANK.regex;
  return [rank, value.length, method === undefined ? 0 : 1, headers, queries];
}

/**
 * Relative Gateway API weights as percentages adding up to 100 (largest remainder), the model's
 * convention; backends with weight 0 are left out. Empty when every weight is 0.
 */
export function percentWeights(backends: readonly BackendRefValue[]): RouteDestination[] {
  const live = backends.filter((b) => b.weight > 0);
  const percentages = toPercentages(live.map((b) => b.weight));
  return live
    .map((b, i) => ({ ...b.destination, weight: percentages[i] }))
    .filter((d, _i, all) => d.weight > 0 || all.length === 1);
}

/** One URI condition and the rewrite/redirect path that goes with it. */
interface UriPart {
  uri: StringMatch;
  rewriteUri?: string;
  redirectUri?: string;
  /** The prefix a ReplacePrefixMatch redirect puts in place of the matched one. */
  redirectPrefix?: string;
}

function trimSlash(text: string): string {
  return text.endsWith('/') ? text.slice(0, -1) : text;
}

/**
 * Gateway API's PathPrefix matches whole path elements (`/foo` matches `/foo` and `/foo/bar`,
 * not `/foobar`): it becomes an exact match on `/foo` plus a prefix match on `/foo/`. With
 * URLRewrite ReplacePrefixMatch R the two get their own rewrites (`/foo` → R, `/foo/x` → `R/x`).
 * (ReplacePrefixMatch is only valid on PathPrefix matches; the readers check that.)
 */
function uriParts(match: RuleMatch, filters: RuleFilters): UriPart[] {
  const fullRewrite = filters.rewrite?.fullPath;
  const fullRedirect = filters.redirect?.fullPath;
  if (match.uri) return [{ uri: match.uri, rewriteUri: fullRewrite, redirectUri: fullRedirect }];
  const type = match.path?.type ?? 'PathPrefix';
  const value = match.path?.value ?? '/';
  if (type === 'Exact')
    return [{ uri: { exact: value }, rewriteUri: fullRewrite, redirectUri: fullRedirect }];
  if (type === 'RegularExpression')
    return [{ uri: { regex: value }, rewriteUri: fullRewrite, redirectUri: fullRedirect }];
  const base = trimSlash(value);
  const redirect = filters.redirect?.prefix;
  if (redirect !== undefined)
    return [
      { uri: { exact: base === '' ? '/' : base }, redirectUri: redirect === '' ? '/' : redirect },
      // `/foo/x` → `R/x`: the prefix with its slash is replaced (Envoy prefix_rewrite).
      { uri: { prefix: `${base}/` }, redirectPrefix: `${trimSlash(redirect)}/` },
    ];
  const replacement = filters.rewrite?.prefix;
  if (replacement === undefined) {
    if (base === '') return [{ uri: { prefix: '/' }, rewriteUri: fullRewrite, redirectUri: fullRedirect }];
    return [
      { uri: { exact: base }, rewriteUri: fullRewrite, redirectUri: fullRedirect },
      { uri: { prefix: `${base}/` }, rewriteUri: fullRewrite, redirectUri: fullRedirect },
    ];
  }
  return [
    { uri: { exact: base === '' ? '/' : base }, rewriteUri: replacement === '' ? '/' : replacement },
    // A prefix match is rewritten as a prefix (Envoy prefix_rewrite): `/foo/` → `R/`.
    { uri: { prefix: `${base}/` }, rewriteUri: `${trimSlash(replacement)}/` },
  ];
}

/** The parts every HttpRoute made from one rule shares. */
export interface RuleBody {
  /** Base name (`ns/route/rules[i]`, or the rule's own name). */
  name: string;
  backends: readonly BackendRefValue[];
  filters: RuleFilters;
  timeouts?: { requestMs?: number; backendRequestMs?: number };
  /** The rule's `retry` (GEP-1731). */
  retry?: RuleRetry;
}

/** HTTPRoute rule `retry`: status codes, most retries, back-off between them. */
export interface RuleRetry {
  codes: readonly number[];
  attempts?: number;
  backoffMs?: number;
}

/**
 * The retry policy of a rule. `retry` (GEP-1731): the listed codes, and connection errors, which
 * the spec says are always retried; attempts default to 2 (Istio's). Without it,
 * `timeouts.backendRequest` gives Istio's default retries; either way each attempt is bounded by it.
 */
function ruleRetries(body: RuleBody): RetryPolicy | undefined {
  const backendRequestMs = body.timeouts?.backendRequestMs;
  const perTry = backendRequestMs === undefined ? {} : { perTryTimeoutMs: backendRequestMs };
  const retry = body.retry;
  if (retry !== undefined)
    return {
      attempts: retry.attempts ?? 2,
      ...perTry,
      retryOn: [
        'connect-failure',
        'reset',
        'refused-stream',
        ...(retry.codes.length > 0 ? ['retriable-status-codes'] : []),
      ],
      retriableStatusCodes: [...retry.codes],
      ...(retry.backoffMs === undefined ? {} : { backoffMs: retry.backoffMs }),
    };
  if (backendRequestMs === undefined) return undefined;
  return {
    attempts: 2,
    ...perTry,
    retryOn: [...DEFAULT_RETRY_ON],
    retriableStatusCodes: [...DEFAULT_RETRIABLE_STATUS_CODES],
  };
}

/**
 * The HttpRoutes of one (rule, match), each with the match's rank. A rule with neither backends
 * nor a redirect answers 500 (as the spec says), as does one whose backends all weigh 0.
 */
export function ruleRoutes(
  body: RuleBody,
  match: RuleMatch,
  matchIndex: number,
): { route: HttpRoute; rank: number[] }[] {
  const { filters } = body;
  const parts = uriParts(match, filters);
  const destinations = percentWeights(body.backends);
  return parts.map((part, partIndex) => {
    const httpMatch: HttpMatch = {
      uri: part.uri,
      ignoreUriCase: false,
      headers: match.headers,
      queryParams: match.queryParams,
      ...(match.method === undefined ? {} : { method: { exact: match.method } }),
    };
    const name = parts.length > 1 ? `${body.name}.${matchIndex}.${partIndex}` : `${body.name}.${matchIndex}`;
    const route: HttpRoute = { name, matches: [httpMatch], mirrors: filters.mirrors };
    if (filters.redirect) {
      const r = filters.redirect;
      route.redirect = {
        redirectCode: r.statusCode,
        ...(part.redirectUri === undefined ? {} : { uri: part.redirectUri }),
        ...(part.redirectPrefix === undefined ? {} : { uriPrefix: part.redirectPrefix }),
        ...(r.hostname === undefined ? {} : { authority: r.hostname }),
        ...(r.scheme === undefined ? {} : { scheme: r.scheme }),
        ...(r.port === undefined ? {} : { port: r.port }),
      };
    } else if (destinations.length === 0) {
      route.directResponse = { status: 500 };
    } else {
      route.route = destinations;
      const requestMs = body.timeouts?.requestMs;
      if (requestMs !== undefined) route.timeoutMs = requestMs;
      const retries = ruleRetries(body);
      if (retries) route.retries = retries;
      if (filters.rewrite) {
        const rewrite: NonNullable<HttpRoute['rewrite']> = {};
        if (part.rewriteUri !== undefined) rewrite.uri = part.rewriteUri;
        if (filters.rewrite.hostname !== undefined) rewrite.authority = filters.rewrite.hostname;
        if (Object.keys(rewrite).length > 0) route.rewrite = rewrite;
      }
    }
    if (filters.cors) route.cors = filters.cors;
    if (filters.requestHeaders || filters.responseHeaders)
      route.headers = {
        ...(filters.requestHeaders ? { request: filters.requestHeaders } : {}),
        ...(filters.responseHeaders ? { response: filters.responseHeaders } : {}),
      };
    return { route, rank: match.rank };
  });
}
