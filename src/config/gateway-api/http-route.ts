// Gateway API HTTPRoute → GatewayApiRouteModel: parents, hostnames, and each rule as VirtualService-style HttpRoutes.
import type {
  CorsPolicy,
  GatewayApiRouteModel,
  HeaderOperations,
  MirrorPolicy,
  StringMatch,
} from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { regexError } from '../istio/string-match.ts';
import { readLinkerdRouteAnnotations, withLinkerdSettings } from '../linkerd/route-annotations.ts';
import type { Fields, Reader } from '../read.ts';
import {
  boolean,
  defined,
  duration,
  integer,
  list,
  nonEmptyString,
  object,
  oneOf,
  port,
  readObject,
  stringWith,
} from '../read.ts';
import type { BackendRefValue } from './common.ts';
import {
  backendRef,
  headerMatch,
  headerModifier,
  hostname,
  mergeOperations,
  queryParamMatch,
  requestMirror,
  routeParents,
} from './common.ts';
import { httpMatchRank, type RuleFilters, type RuleMatch, type RuleRetry, ruleRoutes } from './rules.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

/** An absolute path (`/...`), as Gateway API path values and replacements must be. */
const absolutePath = stringWith((text) =>
  text.startsWith('/') ? undefined : `"${text}" must be an absolute path starting with /`,
);

const pathMatch: Reader<NonNullable<RuleMatch['path']>> = object((f) => {
  const type = f.optional('type', oneOf(['Exact', 'PathPrefix', 'RegularExpression'])) ?? 'PathPrefix';
  const value =
    type === 'RegularExpression'
      ? f.optional(
          'value',
          stringWith((t) => (t === '' ? 'must not be empty' : regexError(t))),
        )
      : f.optional('value', absolutePath);
  return { type, value: value ?? '/' };
});

const ruleMatch: Reader<RuleMatch> = object((f) => {
  const path = f.optional('path', pathMatch) ?? { type: 'PathPrefix' as const, value: '/' };
  const method = f.optional('method', oneOf(METHODS));
  const headers = f.optional('headers', list(headerMatch)) ?? [];
  const queryParams = f.optional('queryParams', list(queryParamMatch)) ?? [];
  return {
    path,
    method,
    headers,
    queryParams,
    rank: httpMatchRank(path, method, headers.length, queryParams.length),
  };
});

/** `path` of a redirect or rewrite: ReplaceFullPath or ReplacePrefixMatch. */
const pathModifier: Reader<{ fullPath?: string; prefix?: string }> = object((f) => {
  const type = f.required('type', oneOf(['ReplaceFullPath', 'ReplacePrefixMatch']));
  const full = f.optional('replaceFullPath', absolutePath);
  const prefix = f.optional('replacePrefixMatch', absolutePath);
  if (type === 'ReplaceFullPath') {
    if (full === undefined)
      f.check.error(f.at('replaceFullPath'), 'type ReplaceFullPath needs replaceFullPath', 'missing');
    return { fullPath: full };
  }
  if (type === 'ReplacePrefixMatch') {
    if (prefix === undefined)
      f.check.error(
        f.at('replacePrefixMatch'),
        'type ReplacePrefixMatch needs replacePrefixMatch',
        'missing',
      );
    return { prefix };
  }
  return undefined;
});

const statusCodeReader: Reader<number> = (check, value, path) => {
  if (value === 301 || value === 302 || value === 303 || value === 307 || value === 308) return value;
  check.error(path, `must be one of 301, 302, 303, 307, 308, got ${JSON.stringify(value)}`);
  return undefined;
};

const redirectReader: Reader<NonNullable<RuleFilters['redirect']>> = object((f) => {
  const scheme = f.optional('scheme', oneOf(['http', 'https']));
  const redirectHost = f.optional('hostname', hostname);
  const path = f.optional('path', pathModifier);
  const redirectPort = f.optional('port', port);
  return {
    scheme,
    hostname: redirectHost,
    fullPath: path?.fullPath,
    prefix: path?.prefix,
    port: redirectPort,
    // Gateway API's default redirect status is 302.
    statusCode: f.optional('statusCode', statusCodeReader) ?? 302,
  };
});

const urlRewrite: Reader<NonNullable<RuleFilters['rewrite']>> = object((f) => {
  const rewriteHost = f.optional('hostname', hostname);
  const path = f.optional('path', pathModifier);
  return { hostname: rewriteHost, fullPath: path?.fullPath, prefix: path?.prefix };
});

/** A CORS `allowOrigins` entry: `*` (any), a `scheme://host[:port]` with `*` standing for host labels, or one origin. */
function originMatch(origin: string): StringMatch {
  if (origin === '*') return { regex: '.*' };
  if (!origin.includes('*')) return { exact: origin };
  return {
    regex: origin
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+'),
  };
}

/** The CORS filter (`HTTPCORSFilter`): origins, credentials, methods, headers, max age (seconds, default 5). */
const corsFilter: Reader<CorsPolicy> = object((f) => ({
  allowOrigins: (f.optional('allowOrigins', list(nonEmptyString)) ?? []).map(originMatch),
  allowCredentials: f.optional('allowCredentials', boolean) ?? false,
  allowMethods: f.optional('allowMethods', list(nonEmptyString)) ?? [],
  allowHeaders: f.optional('allowHeaders', list(nonEmptyString)) ?? [],
  exposeHeaders: f.optional('exposeHeaders', list(nonEmptyString)) ?? [],
  maxAgeSeconds: f.optional('maxAge', integer(1, 2 ** 31 - 1)) ?? 5,
  unmatchedPreflights: 'FORWARD',
}));

/** Filter types of HTTPRoute rules and the field each carries its settings in. */
const FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  CORS: 'cors',
  ExtensionRef: 'extensionRef',
} as const;

type Filter =
  | { type: 'request' | 'response'; operations: HeaderOperations }
  | { type: 'redirect'; redirect: NonNullable<RuleFilters['redirect']> }
  | { type: 'rewrite'; rewrite: NonNullable<RuleFilters['rewrite']> }
  | { type: 'mirror'; mirror: MirrorPolicy }
  | { type: 'cors'; cors: CorsPolicy };

function filter(context: ResourceContext, kinds: readonly (keyof typeof FILTER_FIELDS)[]): Reader<Filter> {
  return object((f) => {
    const type = f.required('type', oneOf(Object.keys(FILTER_FIELDS) as (keyof typeof FILTER_FIELDS)[]));
    if (type === undefined) return undefined;
    const field = FILTER_FIELDS[type];
    if (type === 'ExtensionRef' || !kinds.includes(type)) {
      f.optional(field, (c, _v, p) => {
        c.error(p, `filter ${type} is not supported here by weft (yet)`, 'unsupported');
        return undefined;
      });
      if (!f.has(field))
        f.check.error(f.at('type'), `filter ${type} is not supported here by weft (yet)`, 'unsupported');
      return undefined;
    }
    if (!f.has(field)) {
      f.check.error(f.at(field), `filter type ${type} needs its ${field} field`, 'missing');
      return undefined;
    }
    if (type === 'RequestHeaderModifier' || type === 'ResponseHeaderModifier') {
      const operations = f.optional(field, headerModifier);
      return operations && { type: type === 'RequestHeaderModifier' ? 'request' : 'response', operations };
    }
    if (type === 'RequestRedirect') {
      const redirect = f.optional(field, redirectReader);
      return redirect && { type: 'redirect', redirect };
    }
    if (type === 'CORS') {
      const cors = f.optional(field, corsFilter);
      return cors && { type: 'cors', cors };
    }
    if (type === 'URLRewrite') {
      const rewrite = f.optional(field, urlRewrite);
      return rewrite && { type: 'rewrite', rewrite };
    }
    const mirror = f.optional(field, requestMirror(context));
    return mirror && { type: 'mirror', mirror };
  });
}

/** Folds a rule's filters into one RuleFilters, checking the combinations the spec forbids. */
export function ruleFilters(check: Check, path: FieldPath, filters: readonly Filter[]): RuleFilters {
  const out: RuleFilters = { mirrors: [] };
  for (const item of filters) {
    if (item.type === 'request') out.requestHeaders = mergeOperations(out.requestHeaders, item.operations);
    else if (item.type === 'response')
      out.responseHeaders = mergeOperations(out.responseHeaders, item.operations);
    else if (item.type === 'redirect') out.redirect = item.redirect;
    else if (item.type === 'rewrite') out.rewrite = item.rewrite;
    else if (item.type === 'mirror') out.mirrors.push(item.mirror);
    else if (item.type === 'cors') out.cors = item.cors;
  }
  if (out.redirect && out.rewrite)
    check.error(path, 'RequestRedirect and URLRewrite cannot be used together');
  return out;
}

/** `timeouts`: request (whole request) and backendRequest (each attempt); `0s` disables. */
const timeouts: Reader<{ requestMs?: number; backendRequestMs?: number }> = object((f) => {
  const requestMs = f.optional('request', duration(0));
  const backendRequestMs = f.optional('backendRequest', duration(0));
  if (
    requestMs !== undefined &&
    backendRequestMs !== undefined &&
    requestMs > 0 &&
    backendRequestMs > requestMs
  )
    f.check.error(f.at('backendRequest'), 'backendRequest must not be longer than request');
  return { requestMs, backendRequestMs: backendRequestMs === 0 ? undefined : backendRequestMs };
});

/** `retry` (GEP-1731): `codes` (400-599), `attempts` (most retries), `backoff` (between retries). */
const ruleRetry: Reader<RuleRetry> = object((f) =>
  defined<RuleRetry>({
    codes: f.optional('codes', list(integer(400, 599))) ?? [],
    attempts: f.optional('attempts', integer(0, 1000)),
    backoffMs: f.optional('backoff', duration()),
  }),
);

/** The default rule when `rules` is absent: match every path, no backends (answers 500). */
const DEFAULT_MATCH: RuleMatch = {
  path: { type: 'PathPrefix', value: '/' },
  headers: [],
  queryParams: [],
  rank: httpMatchRank(undefined, undefined, 0, 0),
};

/** Reads one `rules[]` entry of HTTPRoute `context.name`. */
function rule(context: ResourceContext): Reader<GatewayApiRouteModel['rules']> {
  return (check, value, path) =>
    readObject(
      check,
      value,
      path,
      (f: Fields) => {
        const index = path[path.length - 1];
        const name =
          f.optional('name', nonEmptyString) ??
          `${context.namespace}/${context.name}/rules[${String(index)}]`;
        const matches = f.optional('matches', list(ruleMatch)) ?? [];
        const filters = ruleFilters(
          check,
          f.at('filters'),
          f.optional(
            'filters',
            list(
              filter(context, [
                'RequestHeaderModifier',
                'ResponseHeaderModifier',
                'RequestRedirect',
                'URLRewrite',
                'RequestMirror',
                'CORS',
              ]),
            ),
          ) ?? [],
        );
        const backends: BackendRefValue[] =
          f.optional('backendRefs', list(backendRef(context, { filters: true }))) ?? [];
        const ruleTimeouts = f.optional('timeouts', timeouts);
        const retry = f.optional('retry', ruleRetry);
        if (filters.redirect && backends.length > 0)
          check.error(f.at('backendRefs'), 'a rule with a RequestRedirect filter cannot have backendRefs');
        const prefixRewrite = filters.rewrite?.prefix !== undefined;
        if (prefixRewrite)
          for (const [i, m] of (matches.length === 0 ? [DEFAULT_MATCH] : matches).entries())
            if (m.path?.type !== 'PathPrefix')
              check.error(
                [...f.at('matches'), i, 'path'],
                'ReplacePrefixMatch needs a PathPrefix match (as the spec says)',
              );
        const body = { name, backends, filters, timeouts: ruleTimeouts, retry };
        return (matches.length === 0 ? [DEFAULT_MATCH] : matches).flatMap((m, i) => ruleRoutes(body, m, i));
      },
      {
        unsupported: {
          sessionPersistence: 'use a DestinationRule with consistentHash',
        },
      },
    );
}

/** Reads `spec` of an HTTPRoute named by `context`. */
export function readHttpRoute(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): GatewayApiRouteModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const parents = routeParents(f, context);
    const hostnames = [...new Set(f.optional('hostnames', list(hostname)) ?? [])];
    const rules = f.has('rules')
      ? (f.optional('rules', list(rule(context))) ?? []).flat()
      : ruleRoutes(
          { name: `${context.namespace}/${context.name}`, backends: [], filters: { mirrors: [] } },
          DEFAULT_MATCH,
          0,
        );
    const linkerd = readLinkerdRouteAnnotations(check, context.annotations);
    return {
      kind: 'HTTPRoute',
      name: context.name,
      namespace: context.namespace,
      parents,
      hostnames,
      rules: withLinkerdSettings(rules, linkerd),
    };
  });
}
