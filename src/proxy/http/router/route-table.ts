// A RouteConfiguration compiled once per RDS version: virtual hosts, routes, actions (lookups: route-match.ts).

import { type BackOff, DEFAULT_BACK_OFF } from '../../cluster/retry-admission.ts';
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
  wrappedNum,
} from '../../common/fields.ts';
import { HTTP_FILTERS } from '../filters/registry.ts';
import { compileMutations, EMPTY_MUTATIONS, type HeaderMutations } from './header-mutations.ts';
import {
  caseSensitive,
  compileHeaderMatchers,
  compileQueryMatcher,
  fullRegex,
  type HeaderMatcher,
  type QueryParameterMatcher,
  type Regex,
} from './matchers.ts';
import type { MirrorPolicy } from './mirror.ts';

/** One entry of a route's hash_policy. */
export type HashPolicy =
  | { kind: 'header'; name: string; terminal: boolean }
  | { kind: 'cookie'; name: string; ttlMs?: number; path: string; terminal: boolean }
  | { kind: 'query'; name: string; terminal: boolean }
  | { kind: 'source_ip'; terminal: boolean };

export interface WeightedCluster {
  name: string;
  weight: number;
  request: HeaderMutations;
  response: HeaderMutations;
  hostRewriteLiteral?: string;
}

export interface RetryPolicy {
  /** Envoy retry_on conditions (`5xx`, `gateway-error`, `connect-failure`, `reset`, ...). */
  retryOn: Set<string>;
  numRetries: number;
  perTryTimeoutMs: number;
  retriableStatusCodes: number[];
  /** The lowest HTTP status an answer is retried for (Infinity: none), so that most answers are let through at once. */
  lowestRetriedStatus: number;
  /** retry_back_off (Envoy's default 25 ms base, 250 ms max). */
  backOff: BackOff;
}

export interface UpgradeSetting {
  enabled: boolean;
  /** For CONNECT: terminate the tunnel here and send the payload as raw TCP upstream. */
  terminateConnect: boolean;
}

/** RouteAction: where a matched request goes. */
export interface ForwardAction {
  kind: 'forward';
  /** Candidate clusters; one entry for `cluster`, several for `weighted_clusters`. */
  clusters: WeightedCluster[];
  totalWeight: number;
  /** Name of a request header holding the cluster (`cluster_header`). */
  clusterHeader?: string;
  /** Route timeout in ms; 0 disables (Envoy default 15 s). */
  timeoutMs: number;
  /** The status when the chosen cluster does not exist (cluster_not_found_response_code; default 503). */
  clusterNotFoundStatus: number;
  prefixRewrite?: string;
  regexRewrite?: { regex: Regex; substitution: string };
  hostRewriteLiteral?: string;
  hostRewriteHeader?: string;
  autoHostRewrite: boolean;
  hashPolicies: HashPolicy[];
  upgrades: Map<string, UpgradeSetting>;
  retry?: RetryPolicy;
  /** request_mirror_policies: copies of the request sent to other clusters. */
  mirrors: MirrorPolicy[];
  /**
   * max_stream_duration.grpc_timeout_header_max in ms: when set, a request's `grpc-timeout`
   * header becomes its timeout, capped by this value (0 = no cap). Undefined: the header is ignored.
   */
  grpcTimeoutMaxMs?: number;
  /** max_stream_duration.max_stream_duration in ms (0 = none): the longest a stream may last. */
  maxStreamDurationMs: number;
}

export interface RedirectAction {
  kind: 'redirect';
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  code: number;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body: string;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface RouteMatch {
  path: 'prefix' | 'path' | 'regex' | 'separated' | 'connect';
  value: string;
  regex?: Regex;
  caseSensitive: boolean;
  headers: HeaderMatcher[];
  query: QueryParameterMatcher[];
  /** Only gRPC requests (content-type application/grpc*). */
  grpc: boolean;
}

export interface Route {
  name: string;
  match: RouteMatch;
  action: RouteAction;
  request: HeaderMutations;
  response: HeaderMutations;
  /** typed_per_filter_config: filter name → the config its factory parsed. */
  perFilter: Map<string, unknown>;
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
  request: HeaderMutations;
  response: HeaderMutations;
  retry?: RetryPolicy;
  /** typed_per_filter_config of the virtual host (routes' own entries win). */
  perFilter: Map<string, unknown>;
}

/** A compiled RouteConfiguration. Immutable; swapped whole when RDS sends a new version. */
export interface RouteTable {
  name: string;
  virtualHosts: VirtualHost[];
  request: HeaderMutations;
  response: HeaderMutations;
  /** Virtual host lookup by lowercase authority. */
  exact: Map<string, VirtualHost>;
  /** `*.example.com` style, longest suffix first. */
  suffixes: { suffix: string; vhost: VirtualHost }[];
  /** `example.*` style, longest prefix first. */
  prefixes: { prefix: string; vhost: VirtualHost }[];
  wildcard?: VirtualHost;
}

function compileRetry(value: unknown, where: string): RetryPolicy | undefined {
  const r = msg(value);
  if (!r) return undefined;
  checkFields(r, where, [
    'retryOn',
    'numRetries',
    'perTryTimeout',
    'retriableStatusCodes',
    'retryHostPredicate',
    'hostSelectionRetryMaxAttempts',
    'retryBackOff',
  ]);
  const retryOn = new Set(
    str(r.retryOn)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const retriableStatusCodes = Array.isArray(r.retriableStatusCodes)
    ? (r.retriableStatusCodes as number[]).map(Number)
    : [];
  return {
    retryOn,
    numRetries: wrappedNum(r.numRetries, 1),
    perTryTimeoutMs: durationMs(r.perTryTimeout, 0),
    retriableStatusCodes,
    lowestRetriedStatus: lowestRetriedStatus(retryOn, retriableStatusCodes),
    backOff: compileBackOff(r.retryBackOff, `${where}.retry_back_off`),
  };
}

/** The lowest HTTP status that retry_on conditions `on` retry (5xx, gateway-error, retriable-status-codes). */
function lowestRetriedStatus(on: Set<string>, codes: readonly number[]): number {
  let lowest = Number.POSITIVE_INFINITY;
  if (on.has('5xx')) lowest = 500;
  else if (on.has('gateway-error')) lowest = 502;
  if (on.has('retriable-status-codes')) for (const c of codes) lowest = Math.min(lowest, c);
  return lowest;
}

/** retry_back_off: base_interval (> 0) and max_interval (default 10 × base, at least base). */
function compileBackOff(value: unknown, where: string): BackOff {
  const b = msg(value);
  if (!b) return DEFAULT_BACK_OFF;
  checkFields(b, where, ['baseInterval', 'maxInterval']);
  const baseMs = durationMs(b.baseInterval, DEFAULT_BACK_OFF.baseMs) || DEFAULT_BACK_OFF.baseMs;
  const maxMs = Math.max(baseMs, durationMs(b.maxInterval, baseMs * 10) || baseMs * 10);
  return { baseMs, maxMs };
}

const ROUTE_ACTION_FIELDS = [
  'cluster',
  'weightedClusters',
  'clusterHeader',
  'timeout',
  'idleTimeout',
  'prefixRewrite',
  'regexRewrite',
  'hostRewriteLiteral',
  'hostRewriteHeader',
  'autoHostRewrite',
  'hashPolicy',
  'upgradeConfigs',
  'retryPolicy',
  'maxStreamDuration',
  'clusterNotFoundResponseCode',
  'priority',
  'requestMirrorPolicies',
];

/** cluster_not_found_response_code values. */
const CLUSTER_NOT_FOUND_STATUS: Record<string, number> = {
  SERVICE_UNAVAILABLE: 503,
  NOT_FOUND: 404,
  INTERNAL_SERVER_ERROR: 500,
};

function clusterNotFoundStatus(value: unknown, where: string): number {
  if (value === undefined) return 503;
  const status = CLUSTER_NOT_FOUND_STATUS[String(value)];
  if (status === undefined) unsupported(`${where}.cluster_not_found_response_code`, `'${String(value)}'`);
  return status;
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function compileMirrors(value: unknown, where: string): MirrorPolicy[] {
  return list(value).map((m, i) => {
    const w = `${where}.request_mirror_policies[${i}]`;
    checkFields(m, w, ['cluster', 'runtimeFraction', 'traceSampled']);
    const cluster = str(m.cluster);
    if (!cluster) unsupported(w, 'a mirror policy without cluster');
    let fraction = 1;
    const rf = msg(m.runtimeFraction);
    if (rf) {
      checkFields(rf, `${w}.runtime_fraction`, ['defaultValue', 'runtimeKey']);
      const dv = msg(rf.defaultValue) ?? {};
      fraction = num(dv.numerator) / (DENOMINATORS[str(dv.denominator) || 'HUNDRED'] ?? 100);
    }
    return { cluster, fraction: Math.min(1, Math.max(0, fraction)) };
  });
}

function compileForward(a: Msg, where: string): ForwardAction {
  checkFields(a, where, ROUTE_ACTION_FIELDS);
  let clusters: WeightedCluster[] = [];
  if (typeof a.cluster === 'string' && a.cluster !== '') {
    clusters = [{ name: a.cluster, weight: 1, request: EMPTY_MUTATIONS, response: EMPTY_MUTATIONS }];
  }
  const wc = msg(a.weightedClusters);
  let totalWeight = clusters.length;
  if (wc) {
    checkFields(wc, `${where}.weighted_clusters`, ['clusters', 'totalWeight', 'runtimeKeyPrefix']);
    clusters = list(wc.clusters).map((c, i) => {
      const w = `${where}.weighted_clusters.clusters[${i}]`;
      checkFields(c, w, [
        'name',
        'weight',
        'requestHeadersToAdd',
        'requestHeadersToRemove',
        'responseHeadersToAdd',
        'responseHeadersToRemove',
        'hostRewriteLiteral',
        'metadataMatch',
        'typedPerFilterConfig',
      ]);
      if (msg(c.metadataMatch) && Object.keys(msg(c.metadataMatch)!).length > 0)
        unsupported(w, 'metadata_match');
      return {
        name: str(c.name),
        weight: wrappedNum(c.weight, 0),
        request: compileMutations(c.requestHeadersToAdd, c.requestHeadersToRemove, `${w}.request`),
        response: compileMutations(c.responseHeadersToAdd, c.responseHeadersToRemove, `${w}.response`),
        hostRewriteLiteral: str(c.hostRewriteLiteral) || undefined,
      };
    });
    totalWeight = clusters.reduce((s, c) => s + c.weight, 0);
    if (totalWeight === 0) unsupported(`${where}.weighted_clusters`, 'a total weight of 0');
  }
  const clusterHeader = str(a.clusterHeader).toLowerCase() || undefined;
  if (clusters.length === 0 && !clusterHeader) unsupported(where, 'a route action without cluster');
  const rr = msg(a.regexRewrite);
  const upgrades = new Map<string, UpgradeSetting>();
  for (const [i, u] of list(a.upgradeConfigs).entries()) {
    checkFields(u, `${where}.upgrade_configs[${i}]`, ['upgradeType', 'enabled', 'connectConfig']);
    upgrades.set(str(u.upgradeType).toLowerCase(), {
      enabled: wrappedBool(u.enabled, true),
      terminateConnect: msg(u.connectConfig) !== undefined,
    });
  }
  if (a.priority !== undefined && a.priority !== 'DEFAULT')
    unsupported(
      `${where}.priority`,
      `'${String(a.priority)}' (weft keeps one set of circuit-breaker thresholds: DEFAULT)`,
    );
  if (durationMs(a.idleTimeout, 0) > 0)
    unsupported(
      `${where}.idle_timeout`,
      "a per-route idle timeout (the listener's stream_idle_timeout applies)",
    );
  const msd = msg(a.maxStreamDuration);
  if (msd) checkFields(msd, `${where}.max_stream_duration`, ['maxStreamDuration', 'grpcTimeoutHeaderMax']);
  return {
    kind: 'forward',
    clusters,
    totalWeight,
    clusterHeader,
    timeoutMs: durationMs(a.timeout, 15000),
    clusterNotFoundStatus: clusterNotFoundStatus(a.clusterNotFoundResponseCode, where),
    prefixRewrite:
      typeof a.prefixRewrite === 'string' && a.prefixRewrite !== '' ? a.prefixRewrite : undefined,
    regexRewrite: rr
      ? {
          regex: fullRegex(str(msg(rr.pattern)?.regex), `${where}.regex_rewrite.pattern`),
          substitution: str(rr.substitution).replace(/\\(\d)/g, '$$$1'),
        }
      : undefined,
    hostRewriteLiteral: str(a.hostRewriteLiteral) || undefined,
    hostRewriteHeader: str(a.hostRewriteHeader).toLowerCase() || undefined,
    autoHostRewrite: wrappedBool(a.autoHostRewrite, false),
    hashPolicies: list(a.hashPolicy).map((h, i) => compileHashPolicy(h, `${where}.hash_policy[${i}]`)),
    upgrades,
    retry: compileRetry(a.retryPolicy, `${where}.retry_policy`),
    mirrors: compileMirrors(a.requestMirrorPolicies, where),
    grpcTimeoutMaxMs:
      msd && msd.grpcTimeoutHeaderMax !== undefined && msd.grpcTimeoutHeaderMax !== null
        ? durationMs(msd.grpcTimeoutHeaderMax, 0)
        : undefined,
    maxStreamDurationMs: msd ? durationMs(msd.maxStreamDuration, 0) : 0,
  };
}

function compileHashPolicy(h: Msg, where: string): HashPolicy {
  checkFields(h, where, ['header', 'cookie', 'queryParameter', 'connectionProperties', 'terminal']);
  const terminal = h.terminal === true;
  const header = msg(h.header);
  if (header) {
    checkFields(header, `${where}.header`, ['headerName']);
    return { kind: 'header', name: str(header.headerName).toLowerCase(), terminal };
  }
  const cookie = msg(h.cookie);
  if (cookie) {
    checkFields(cookie, `${where}.cookie`, ['name', 'ttl', 'path']);
    const ttl = cookie.ttl === undefined || cookie.ttl === null ? undefined : durationMs(cookie.ttl, 0);
    return { kind: 'cookie', name: str(cookie.name), ttlMs: ttl, path: str(cookie.path), terminal };
  }
  const q = msg(h.queryParameter);
  if (q) return { kind: 'query', name: str(q.name), terminal };
  const cp = msg(h.connectionProperties);
  if (cp && cp.sourceIp === true) return { kind: 'source_ip', terminal };
  return unsupported(where, 'this hash policy');
}

function compileRoute(r: Msg, where: string): Route {
  checkFields(r, where, [
    'name',
    'match',
    'route',
    'redirect',
    'directResponse',
    'requestHeadersToAdd',
    'requestHeadersToRemove',
    'responseHeadersToAdd',
    'responseHeadersToRemove',
    'decorator',
    'metadata',
    'typedPerFilterConfig',
  ]);
  const perFilter = compilePerFilter(r.typedPerFilterConfig, where);
  const m = msg(r.match) ?? {};
  const mw = `${where}.match`;
  checkFields(m, mw, [
    'prefix',
    'path',
    'safeRegex',
    'pathSeparatedPrefix',
    'connectMatcher',
    'caseSensitive',
    'headers',
    'queryParameters',
    'grpc',
  ]);
  const cs = caseSensitive(m.caseSensitive);
  let match: RouteMatch;
  const common = {
    caseSensitive: cs,
    headers: compileHeaderMatchers(m.headers, mw),
    query: list(m.queryParameters).map((q, i) => compileQueryMatcher(q, `${mw}.query_parameters[${i}]`)),
    grpc: msg(m.grpc) !== undefined,
  };
  if (typeof m.path === 'string' && m.path !== '')
    match = { path: 'path', value: cs ? m.path : m.path.toLowerCase(), ...common };
  else if (msg(m.safeRegex))
    match = {
      path: 'regex',
      value: '',
      regex: fullRegex(str(msg(m.safeRegex)!.regex), mw, cs ? '' : 'i'),
      ...common,
    };
  else if (typeof m.pathSeparatedPrefix === 'string' && m.pathSeparatedPrefix !== '')
    match = {
      path: 'separated',
      value: cs ? m.pathSeparatedPrefix : m.pathSeparatedPrefix.toLowerCase(),
      ...common,
    };
  else if (msg(m.connectMatcher)) match = { path: 'connect', value: '', ...common };
  else {
    const p = str(m.prefix);
    match = { path: 'prefix', value: cs ? p : p.toLowerCase(), ...common };
  }
  let action: RouteAction;
  if (msg(r.route)) action = compileForward(msg(r.route)!, `${where}.route`);
  else if (msg(r.redirect)) action = compileRedirect(msg(r.redirect)!, `${where}.redirect`);
  else if (msg(r.directResponse)) {
    const d = msg(r.directResponse)!;
    checkFields(d, `${where}.direct_response`, ['status', 'body']);
    const body = msg(d.body);
    if (body) checkFields(body, `${where}.direct_response.body`, ['inlineString', 'inlineBytes']);
    const bytes = body?.inlineBytes;
    action = {
      kind: 'direct',
      status: num(d.status, 200),
      body: body
        ? typeof body.inlineString === 'string' && body.inlineString !== ''
          ? body.inlineString
          : bytes instanceof Uint8Array
            ? Buffer.from(bytes).toString('utf8')
            : ''
        : '',
    };
  } else return unsupported(where, 'a route without route, redirect or direct_response');
  return {
    name: str(r.name),
    match,
    action,
    request: compileMutations(r.requestHeadersToAdd, r.requestHeadersToRemove, `${where}.request`),
    response: compileMutations(r.responseHeadersToAdd, r.responseHeadersToRemove, `${where}.response`),
    perFilter,
  };
}

const FILTER_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';
const NO_PER_FILTER: Map<string, unknown> = new Map();

/**
 * typed_per_filter_config: each entry is parsed by the factory registered for its type URL
 * (`FilterConfig` wrappers are unwrapped; an unknown optional one is skipped, any other NACKed).
 */
function compilePerFilter(value: unknown, where: string): Map<string, unknown> {
  const entries = msg(value);
  if (!entries || Object.keys(entries).length === 0) return NO_PER_FILTER;
  const out = new Map<string, unknown>();
  for (const [name, raw] of Object.entries(entries)) {
    const w = `${where}.typed_per_filter_config['${name}']`;
    let config = msg(raw) ?? {};
    let optional = false;
    if (config['@type'] === FILTER_CONFIG_TYPE_URL) {
      checkFields(config, w, ['config', 'isOptional', 'disabled']);
      optional = config.isOptional === true;
      if (config.disabled === true) unsupported(w, 'disabled per-route filters');
      config = msg(config.config) ?? {};
    }
    const factory = HTTP_FILTERS.get(str(config['@type']));
    if (!factory?.parsePerRoute) {
      if (optional) continue;
      unsupported(w, `per-route config of type ${str(config['@type']) || '(none)'}`);
    }
    out.set(name, factory.parsePerRoute(config, w));
  }
  return out;
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function compileRedirect(r: Msg, where: string): RedirectAction {
  checkFields(r, where, [
    'httpsRedirect',
    'schemeRedirect',
    'hostRedirect',
    'portRedirect',
    'pathRedirect',
    'prefixRewrite',
    'responseCode',
    'stripQuery',
  ]);
  const code = typeof r.responseCode === 'string' ? (REDIRECT_CODES[r.responseCode] ?? 301) : 301;
  return {
    kind: 'redirect',
    scheme: r.httpsRedirect === true ? 'https' : str(r.schemeRedirect) || undefined,
    host: str(r.hostRedirect) || undefined,
    port: num(r.portRedirect) || undefined,
    path: str(r.pathRedirect) || undefined,
    prefixRewrite: str(r.prefixRewrite) || undefined,
    code,
    stripQuery: r.stripQuery === true,
  };
}

const VHOST_FIELDS = [
  'name',
  'domains',
  'routes',
  'requestHeadersToAdd',
  'requestHeadersToRemove',
  'responseHeadersToAdd',
  'responseHeadersToRemove',
  'retryPolicy',
  'includeRequestAttemptCount',
  'typedPerFilterConfig',
];

/**
 * Whether a compiled table holds per-filter configs (typed_per_filter_config of a virtual host or
 * route): parsed by filter factories, they may keep state of the proxy core they were compiled for.
 */
export function hasPerFilterConfig(table: RouteTable): boolean {
  return table.virtualHosts.some((v) => v.perFilter.size > 0 || v.routes.some((r) => r.perFilter.size > 0));
}

/** Compiles a decoded RouteConfiguration; throws UnsupportedFieldError for what weft cannot honour. */
export function compileRouteTable(rc: Msg): RouteTable {
  const name = str(rc.name);
  const where = `RouteConfiguration ${name}`;
  checkFields(rc, where, [
    'name',
    'virtualHosts',
    'requestHeadersToAdd',
    'requestHeadersToRemove',
    'responseHeadersToAdd',
    'responseHeadersToRemove',
    'validateClusters',
    'ignorePortInHostMatching',
    'maxDirectResponseBodySizeBytes',
  ]);
  const table: RouteTable = {
    name,
    virtualHosts: [],
    request: compileMutations(rc.requestHeadersToAdd, rc.requestHeadersToRemove, `${where}.request`),
    response: compileMutations(rc.responseHeadersToAdd, rc.responseHeadersToRemove, `${where}.response`),
    exact: new Map(),
    suffixes: [],
    prefixes: [],
  };
  for (const [vi, v] of list(rc.virtualHosts).entries()) {
    const vw = `${where}.virtual_hosts[${vi}]`;
    checkFields(v, vw, VHOST_FIELDS);
    const vhost: VirtualHost = {
      perFilter: compilePerFilter(v.typedPerFilterConfig, vw),
      name: str(v.name),
      domains: Array.isArray(v.domains) ? (v.domains as string[]).map((d) => d.toLowerCase()) : [],
      routes: list(v.routes).map((r, ri) => compileRoute(r, `${vw}.routes[${ri}]`)),
      request: compileMutations(v.requestHeadersToAdd, v.requestHeadersToRemove, `${vw}.request`),
      response: compileMutations(v.responseHeadersToAdd, v.responseHeadersToRemove, `${vw}.response`),
      retry: compileRetry(v.retryPolicy, `${vw}.retry_policy`),
    };
    table.virtualHosts.push(vhost);
    for (const d of vhost.domains) {
      if (d === '*') {
        if (table.wildcard) unsupported(vw, `domain '*' in two virtual hosts`);
        table.wildcard = vhost;
      } else if (d.startsWith('*')) table.suffixes.push({ suffix: d.slice(1), vhost });
      else if (d.endsWith('*')) table.prefixes.push({ prefix: d.slice(0, -1), vhost });
      else {
        if (table.exact.has(d)) unsupported(vw, `domain '${d}' in two virtual hosts`);
        table.exact.set(d, vhost);
      }
    }
  }
  table.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  table.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return table;
}
