// VirtualService http[] rules → Envoy Routes for one (service, port), as Istio translates them (docs/xds.md).
import { exportedTo, visibleDestinationRule } from '../../../model/lookup.ts';
import type {
  HeaderOperations,
  HttpMatch,
  HttpRoute,
  LoadBalancerPolicy,
  RetryPolicy,
  RouteDestination,
  Service,
  ServicePort,
  StringMatch,
  TcpRoute,
  VirtualServiceModel,
} from '../../../model/types.ts';
import type {
  ClusterWeight,
  Duration,
  RetryPolicy as EnvoyRetryPolicy,
  HashPolicy,
  HeaderEdits,
  HeaderMatcher,
  HeaderValueOption,
  QueryParameterMatcher,
  RedirectAction,
  Route,
  RouteAction,
  RouteMatch,
  StringMatcher,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { ProxyNode } from '../node.ts';
import { type HeaderMatchForm, headerMatchForm } from './clients.ts';
import {
  duration,
  effectivePolicy,
  type GenerateContext,
  isHttpProtocol,
  labelsMatch,
  outboundClusterName,
} from './common.ts';
import { CORS_FILTER_NAME, corsConfig } from './cors.ts';
import { FAULT_FILTER_NAME, faultConfig } from './fault.ts';

/** Who the routes are for: a weft sidecar (Envoy semantics) or a proxyless gRPC client (A28 subset). */
export type RouteFlavour = 'sidecar' | 'grpc';

/** Istio's default `retry_on` (pilot's DefaultRetryPolicy). */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

const PREVIOUS_HOSTS = [
  {
    name: 'envoy.retry_host_predicates.previous_hosts',
    typed_config: { '@type': CONFIG_TYPE.previousHosts },
  },
];

/** Istio's default retry policy for routes whose VirtualService says nothing about retries. */
export function defaultRetryPolicy(): EnvoyRetryPolicy {
  return {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: { value: 2 },
    retriable_status_codes: [503],
    retry_host_predicate: PREVIOUS_HOSTS,
    host_selection_retry_max_attempts: 5,
  };
}

function retryPolicy(retries: RetryPolicy | undefined): EnvoyRetryPolicy | undefined {
  if (!retries) return defaultRetryPolicy();
  if (retries.attempts <= 0) return undefined;
  const policy: EnvoyRetryPolicy = {
    retry_on: retries.retryOn.length > 0 ? retries.retryOn.join(',') : DEFAULT_RETRY_ON,
    num_retries: { value: retries.attempts },
    retry_host_predicate: PREVIOUS_HOSTS,
    host_selection_retry_max_attempts: 5,
  };
  if (retries.perTryTimeoutMs !== undefined) policy.per_try_timeout = duration(retries.perTryTimeoutMs);
  // Istio's backoff is the base interval; the maximum stays Envoy's 10 × base.
  if (retries.backoffMs !== undefined) policy.retry_back_off = { base_interval: duration(retries.backoffMs) };
  if (retries.retriableStatusCodes.length > 0)
    policy.retriable_status_codes = [...retries.retriableStatusCodes];
  else if (policy.retry_on.split(',').includes('retriable-status-codes')) {
    policy.retriable_status_codes = [503];
  }
  return policy;
}

/** Timeout fields of a route action: `{}` (zero) disables them, as Istio's default. */
function timeouts(
  timeoutMs: number | undefined,
  flavour: RouteFlavour,
): Pick<RouteAction, 'timeout' | 'max_stream_duration'> {
  const t = duration(timeoutMs ?? 0);
  return {
    timeout: t,
    max_stream_duration:
      flavour === 'grpc'
        ? { max_stream_duration: t }
        : { max_stream_duration: t, grpc_timeout_header_max: t },
  };
}

/** The route a host gets when no VirtualService applies to it (with the DestinationRule's hash policy, as Istio). */
export function defaultRoute(
  ctx: GenerateContext,
  service: Service,
  port: ServicePort,
  flavour: RouteFlavour,
): Route {
  const action: RouteAction = {
    cluster: outboundClusterName(port.number, undefined, service.hostname),
    ...timeouts(undefined, flavour),
    retry_policy: defaultRetryPolicy(),
  };
  const rule = visibleDestinationRule(ctx.snapshot, service.hostname, ctx.proxy.namespace);
  const hash = hashPolicy(effectivePolicy(rule, port.number, undefined).loadBalancer, ctx.proxy.kind);
  if (hash) action.hash_policy = [hash];
  return { name: 'default', match: { prefix: '/' }, route: action };
}

function stringMatcher(match: StringMatch): StringMatcher {
  if ('exact' in match) return { exact: match.exact };
  if ('prefix' in match) return { prefix: match.prefix };
  return { safe_regex: { regex: match.regex } };
}

/** The same match in HeaderMatcher's deprecated fields, for gRPC clients that predate `string_match`. */
function legacyHeaderMatch(name: string, match: StringMatch): HeaderMatcher {
  if ('exact' in match) return { name, exact_match: match.exact };
  if ('prefix' in match) return { name, prefix_match: match.prefix };
  return { name, safe_regex_match: { regex: match.regex } };
}

function headerMatcher(
  name: string,
  match: StringMatch | undefined,
  invert: boolean,
  form: HeaderMatchForm,
): HeaderMatcher {
  let out: HeaderMatcher;
  if (!match) out = { name, present_match: true };
  else if (form === 'legacy') out = legacyHeaderMatch(name, match);
  else out = { name, string_match: stringMatcher(match) };
  if (invert) out.invert_match = true;
  return out;
}

/** The RouteMatch of a VirtualService match entry; header matchers in the form the client accepts. */
export function routeMatch(match: HttpMatch, form: HeaderMatchForm = 'string_match'): RouteMatch {
  const uri = match.uri;
  const out: RouteMatch = !uri
    ? { prefix: '/' }
    : 'exact' in uri
      ? { path: uri.exact }
      : 'prefix' in uri
        ? { prefix: uri.prefix }
        : { safe_regex: { regex: uri.regex } };
  if (match.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: HeaderMatcher[] = [];
  if (match.method) headers.push(headerMatcher(':method', match.method, false, form));
  if (match.authority) headers.push(headerMatcher(':authority', match.authority, false, form));
  if (match.scheme) headers.push(headerMatcher(':scheme', match.scheme, false, form));
  for (const h of match.headers) headers.push(headerMatcher(h.name, h.match, h.invert, form));
  if (headers.length > 0) out.headers = headers;
  if (match.queryParams.length > 0) {
    out.query_parameters = match.queryParams.map(
      (q): QueryParameterMatcher =>
        q.match
          ? { name: q.name, string_match: stringMatcher(q.match) }
          : { name: q.name, present_match: true },
    );
  }
  return out;
}

/** Istio's catch-all test: nothing but a `/` prefix (or `.*` regex) on the URI. */
function isCatchAll(match: HttpMatch | undefined): boolean {
  if (!match) return true;
  const uri = match.uri;
  const uriAll =
    !uri ||
    ('prefix' in uri && uri.prefix === '/') ||
    ('regex' in uri && (uri.regex === '.*' || uri.regex === '*'));
  return (
    uriAll &&
    !match.method &&
    !match.authority &&
    !match.scheme &&
    match.headers.length === 0 &&
    match.queryParams.length === 0
  );
}

function headersToAdd(ops: HeaderOperations): HeaderValueOption[] {
  return [
    ...Object.entries(ops.set).map(([key, value]) => ({
      header: { key, value },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' as const,
    })),
    ...Object.entries(ops.add).map(([key, value]) => ({ header: { key, value } })),
  ];
}

/** Adds request (or response) header operations to a Route or a weighted cluster entry. */
function applyHeaders(
  target: HeaderEdits,
  ops: HeaderOperations | undefined,
  direction: 'request' | 'response',
): void {
  if (!ops) return;
  const add = headersToAdd(ops);
  if (add.length > 0) {
    const key = `${direction}_headers_to_add` as const;
    target[key] = [...(target[key] ?? []), ...add];
  }
  if (ops.remove.length > 0) {
    const key = `${direction}_headers_to_remove` as const;
    target[key] = [...(target[key] ?? []), ...ops.remove];
  }
}

/** gRFC A42: a proxyless gRPC client hashes this filter state key to its channel's id. */
export const GRPC_CHANNEL_ID_KEY = 'io.grpc.channel_id';

/**
 * The consistent-hash key of a load balancer policy as an Envoy RouteAction.HashPolicy. Proxyless
 * gRPC clients (gRFC A42) hash only headers and their channel id: source IP becomes the channel
 * id (one client channel sticks to one endpoint), and cookies and query parameters, which gRPC
 * has not, are left out (the client then hashes at random; `weft apply` warns).
 */
function hashPolicy(lb: LoadBalancerPolicy | undefined, kind: ProxyNode['kind']): HashPolicy | undefined {
  if (!lb || !('consistentHash' in lb)) return undefined;
  const key = lb.consistentHash.key;
  if ('httpHeaderName' in key) return { header: { header_name: key.httpHeaderName } };
  if (kind === 'grpc')
    return 'useSourceIp' in key ? { filter_state: { key: GRPC_CHANNEL_ID_KEY } } : undefined;
  if ('httpQueryParameterName' in key) return { query_parameter: { name: key.httpQueryParameterName } };
  if ('httpCookie' in key) {
    const cookie: { name: string; path?: string; ttl?: Duration } = { name: key.httpCookie.name };
    if (key.httpCookie.path) cookie.path = key.httpCookie.path;
    if (key.httpCookie.ttlMs !== undefined) cookie.ttl = duration(key.httpCookie.ttlMs);
    return { cookie };
  }
  return { connection_properties: { source_ip: true } };
}

/** Where one route destination goes: its cluster name and the port it resolved to. */
function destinationCluster(
  ctx: GenerateContext,
  dest: RouteDestination,
  service: Pick<Service, 'hostname'>,
  port: Pick<ServicePort, 'number'>,
) {
  const target = ctx.snapshot.services.get(dest.host);
  let destPort = dest.port;
  if (destPort === undefined) {
    if (dest.host === service.hostname) destPort = port.number;
    else if (target && target.ports.length === 1) destPort = target.ports[0].number;
    else destPort = port.number;
  }
  return { cluster: outboundClusterName(destPort, dest.subset, dest.host), port: destPort };
}

/** The `route` action of a forwarding rule, for one of its matches. */
function forwardAction(
  ctx: GenerateContext,
  vs: VirtualServiceModel,
  rule: HttpRoute,
  match: HttpMatch | undefined,
  service: Pick<Service, 'hostname'>,
  port: Pick<ServicePort, 'number'>,
  flavour: RouteFlavour,
): RouteAction {
  const dests = (rule.route ?? []).filter((d) => d.weight > 0 || (rule.route ?? []).length === 1);
  const resolved = dests.map((d) => ({ dest: d, ...destinationCluster(ctx, d, service, port) }));
  for (const r of resolved) {
    if (!ctx.snapshot.services.has(r.dest.host)) {
      ctx.warn(
        `VirtualService/${vs.namespace}/${vs.name}/host/${r.dest.host}`,
        `VirtualService ${vs.namespace}/${vs.name} routes to ${r.dest.host}, which is not a known service; requests there get 503`,
      );
    }
  }
  const action: RouteAction =
    resolved.length === 1
      ? { cluster: resolved[0].cluster }
      : {
          weighted_clusters: {
            clusters: resolved.map((r) => {
              const entry: ClusterWeight = { name: r.cluster, weight: { value: r.dest.weight } };
              applyHeaders(entry, r.dest.headers, 'request');
              applyHeaders(entry, r.dest.responseHeaders, 'response');
              return entry;
            }),
          },
        };
  Object.assign(action, timeouts(rule.timeoutMs, flavour));
  const retry = retryPolicy(rule.retries);
  if (retry) action.retry_policy = retry;
  const hashes = resolved.map((r) =>
    hashPolicy(
      effectivePolicy(
        visibleDestinationRule(ctx.snapshot, r.dest.host, ctx.proxy.namespace),
        r.port,
        r.dest.subset,
      ).loadBalancer,
      ctx.proxy.kind,
    ),
  );
  if (hashes[0] && hashes.every((h) => JSON.stringify(h) === JSON.stringify(hashes[0]))) {
    action.hash_policy = [hashes[0]];
  }
  if (rule.rewrite) {
    const { uri, uriRegex, authority } = rule.rewrite;
    if (uriRegex)
      action.regex_rewrite = { pattern: { regex: uriRegex.match }, substitution: uriRegex.rewrite };
    else if (uri !== undefined) {
      const m = match?.uri;
      if (m && !('prefix' in m)) action.regex_rewrite = { pattern: { regex: '^.*$' }, substitution: uri };
      else action.prefix_rewrite = uri;
    }
    if (authority) action.host_rewrite_literal = authority;
  }
  if (rule.mirrors.length > 0) {
    action.request_mirror_policies = rule.mirrors.map((m) => ({
      cluster: destinationCluster(
        ctx,
        { host: m.host, subset: m.subset, port: m.port, weight: 100 },
        service,
        port,
      ).cluster,
      runtime_fraction: {
        default_value: { numerator: Math.round(m.percentage * 10_000), denominator: 'MILLION' },
      },
    }));
  }
  return action;
}

function redirectAction(rule: HttpRoute): RedirectAction {
  const r = rule.redirect!;
  const out: RedirectAction = {};
  if (r.uri !== undefined) out.path_redirect = r.uri;
  else if (r.uriPrefix !== undefined) out.prefix_rewrite = r.uriPrefix;
  if (r.authority !== undefined) out.host_redirect = r.authority;
  if (r.scheme !== undefined) out.scheme_redirect = r.scheme;
  if (r.port !== undefined) out.port_redirect = r.port;
  const codes: Record<number, RedirectAction['response_code']> = {
    302: 'FOUND',
    303: 'SEE_OTHER',
    307: 'TEMPORARY_REDIRECT',
    308: 'PERMANENT_REDIRECT',
  };
  if (codes[r.redirectCode]) out.response_code = codes[r.redirectCode];
  return out;
}

/** A rule's route for one of its matches: the match and the action (forward, redirect or direct response). */
function routeWithAction(
  ctx: GenerateContext,
  vs: VirtualServiceModel,
  rule: HttpRoute,
  match: HttpMatch | undefined,
  service: Pick<Service, 'hostname'>,
  port: Pick<ServicePort, 'number'>,
  flavour: RouteFlavour,
): Route {
  const routeMatched = match ? routeMatch(match, headerMatchForm(ctx.proxy)) : { prefix: '/' };
  if (rule.route)
    return { match: routeMatched, route: forwardAction(ctx, vs, rule, match, service, port, flavour) };
  if (rule.redirect) return { match: routeMatched, redirect: redirectAction(rule) };
  // Config validation gives every rule one of route, redirect or directResponse.
  const { status, body } = rule.directResponse!;
  return {
    match: routeMatched,
    direct_response: body === undefined ? { status } : { status, body: { inline_string: body } },
  };
}

/** Whether a match entry applies to this proxy and port (Istio evaluates these per proxy). */
function matchApplies(match: HttpMatch, ctx: GenerateContext, port: number): boolean {
  if (match.port !== undefined && match.port !== port) return false;
  if (match.sourceLabels && !labelsMatch(match.sourceLabels, ctx.proxy.labels)) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== ctx.proxy.namespace) return false;
  if (match.gateways && !match.gateways.includes('mesh')) return false;
  return true;
}

/** The VirtualServices that route a host for this proxy, in the snapshot's order. */
export function virtualServicesFor(ctx: GenerateContext, host: string): readonly VirtualServiceModel[] {
  const all = ctx.snapshot.virtualServicesByHost.get(host) ?? [];
  return all.filter((vs) => exportedTo(ctx.snapshot.mesh, 'virtualService', vs, ctx.proxy.namespace));
}

/**
 * Routes for requests to (service, port): the VirtualServices' rules in order (rules after a
 * catch-all dropped), or Istio's default route when no VirtualService applies.
 */
export function buildRoutes(
  ctx: GenerateContext,
  service: Service,
  port: ServicePort,
  flavour: RouteFlavour,
): Route[] {
  const vss = virtualServicesFor(ctx, service.hostname);
  if (vss.length === 0) return [defaultRoute(ctx, service, port, flavour)];
  return virtualServiceRoutes(ctx, vss, service, port, flavour, (m) => matchApplies(m, ctx, port.number));
}

/**
 * The routes of `vss`' http rules in order, for the match entries `applies` accepts (rules
 * after a catch-all dropped). `service` and `port` are what a destination without a port
 * defaults to; gateways pass the server port and no service.
 */
export function virtualServiceRoutes(
  ctx: GenerateContext,
  vss: readonly VirtualServiceModel[],
  service: Pick<Service, 'hostname'>,
  port: Pick<ServicePort, 'number'>,
  flavour: RouteFlavour,
  applies: (match: HttpMatch) => boolean,
): Route[] {
  const routes: Route[] = [];
  for (const vs of vss) {
    for (const rule of vs.http) {
      if (flavour === 'grpc' && !rule.route) {
        ctx.warn(
          `VirtualService/${vs.namespace}/${vs.name}/grpc-action`,
          `VirtualService ${vs.namespace}/${vs.name}: redirect and directResponse rules cannot be sent to proxyless gRPC clients (they reject them); rule ${rule.name || '(unnamed)'} is left out for them`,
        );
        continue;
      }
      const matches: (HttpMatch | undefined)[] =
        rule.matches.length === 0 ? [undefined] : rule.matches.filter(applies);
      for (const match of matches) {
        const route = routeWithAction(ctx, vs, rule, match, service, port, flavour);
        const name = [rule.name, match?.name].filter(Boolean).join('.');
        if (name) route.name = name;
        if (rule.fault) {
          route.typed_per_filter_config = { [FAULT_FILTER_NAME]: faultConfig(rule.fault) };
        }
        if (rule.cors && flavour === 'sidecar')
          route.typed_per_filter_config = {
            ...route.typed_per_filter_config,
            [CORS_FILTER_NAME]: corsConfig(rule.cors),
          };
        applyHeaders(route, rule.headers?.request, 'request');
        applyHeaders(route, rule.headers?.response, 'response');
        const single = rule.route?.filter((d) => d.weight > 0 || rule.route?.length === 1);
        if (single?.length === 1) {
          applyHeaders(route, single[0].headers, 'request');
          applyHeaders(route, single[0].responseHeaders, 'response');
        }
        routes.push(route);
        if (isCatchAll(match)) return routes;
      }
    }
  }
  return routes;
}

/** Whether a `tcp[]` match entry applies to this proxy and port. */
function tcpMatchApplies(match: TcpRoute['matches'][number], ctx: GenerateContext, port: number): boolean {
  if (match.port !== undefined && match.port !== port) return false;
  if (match.sourceLabels && !labelsMatch(match.sourceLabels, ctx.proxy.labels)) return false;
  if (match.gateways && !match.gateways.includes('mesh')) return false;
  return true;
}

/**
 * The route that terminates `CONNECT host:port` and tunnels its bytes upstream: to the port's
 * cluster, or for an opaque (TCP) port, to the destinations of the first VirtualService
 * `tcp[]` rule that applies (weights as given).
 */
export function connectRoute(ctx: GenerateContext, service: Service, port: ServicePort): Route {
  let action: RouteAction = { cluster: outboundClusterName(port.number, undefined, service.hostname) };
  if (!isHttpProtocol(port.protocol)) {
    const rule = virtualServicesFor(ctx, service.hostname)
      .flatMap((vs) => vs.tcp)
      .find((r) => r.matches.length === 0 || r.matches.some((m) => tcpMatchApplies(m, ctx, port.number)));
    const dests = rule?.route.filter((d) => d.weight > 0 || rule.route.length === 1) ?? [];
    if (dests.length === 1) action = { cluster: destinationCluster(ctx, dests[0], service, port).cluster };
    else if (dests.length > 1) {
      action = {
        weighted_clusters: {
          clusters: dests.map((d) => ({
            name: destinationCluster(ctx, d, service, port).cluster,
            weight: { value: d.weight },
          })),
        },
      };
    }
  }
  action.upgrade_configs = [{ upgrade_type: 'CONNECT', connect_config: {} }];
  return { name: 'connect', match: { connect_matcher: {} }, route: action };
}
