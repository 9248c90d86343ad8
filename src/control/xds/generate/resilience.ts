// Resilience generation: inbound local rate limits (per service or per named route) and Linkerd retry budgets as cluster metadata.
import type { RateLimitModel, RetryRatioBudget } from '../../../model/types.ts';
import type {
  HttpFilter,
  Metadata,
  PerRouteFilterConfig,
  Route,
  RuntimeFractionalPercent,
} from '../../../xds/messages/index.ts';
import { jsonToStruct } from '../../../xds/struct.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import { duration, type GenerateContext } from './common.ts';
import { routeMatch, virtualServicesFor } from './routes.ts';

/** The LocalRateLimit type URL (envoy.extensions.filters.http.local_ratelimit.v3). */
export const LOCAL_RATELIMIT_TYPE = CONFIG_TYPE.localRateLimit;

/** The local rate limit filter's name; per-route configs are keyed by it. */
export const LOCAL_RATELIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';

const ALWAYS: RuntimeFractionalPercent = {
  default_value: { numerator: 100, denominator: 'HUNDRED' },
  runtime_key: '',
};

/** One limit as a LocalRateLimit config: enabled and enforced for every request, x-ratelimit headers on. */
function localRateLimitConfig(limit: RateLimitModel): PerRouteFilterConfig {
  return {
    '@type': LOCAL_RATELIMIT_TYPE,
    stat_prefix: `${limit.kind}_${limit.namespace}_${limit.name}`,
    token_bucket: {
      max_tokens: limit.maxTokens,
      tokens_per_fill: { value: limit.tokensPerFill },
      fill_interval: duration(limit.fillIntervalMs),
    },
    filter_enabled: ALWAYS,
    filter_enforced: ALWAYS,
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  };
}

/** What a sidecar's inbound listener needs for the rate limits on its service. */
export interface InboundRateLimits {
  /** The filter, placed before the router (no bucket of its own: routes carry them). */
  filter?: HttpFilter;
  /** Routes for route-scoped limits, in front of the default route. */
  routes: Route[];
  /** typed_per_filter_config for the default route (a service-wide limit). */
  defaultRoute?: Record<string, PerRouteFilterConfig>;
}

/** The rate limits on a sidecar's service, oldest first. */
function limitsFor(ctx: Pick<GenerateContext, 'snapshot' | 'proxy'>): {
  host: string;
  limits: RateLimitModel[];
} {
  const service = ctx.proxy.service;
  if (!service) return { host: '', limits: [] };
  const host = `${service.name}.${ctx.proxy.namespace}.svc.${ctx.snapshot.mesh.domainSuffix}`;
  return { host, limits: (ctx.snapshot.rateLimits ?? []).filter((l) => l.host === host) };
}

/**
 * What of a snapshot the inbound rate limits of `proxy` read (for the listener cache key): the
 * limits on its service and, when one names a route, that host's VirtualService http rules.
 */
export function rateLimitCacheKey(
  snapshot: GenerateContext['snapshot'],
  proxy: GenerateContext['proxy'],
): string {
  const { host, limits } = limitsFor({ snapshot, proxy });
  if (limits.length === 0) return '';
  const routed = limits.some((l) => l.route !== undefined);
  const rules = routed
    ? (snapshot.virtualServicesByHost.get(host) ?? []).map((vs) => [vs.namespace, vs.name, vs.http])
    : [];
  return JSON.stringify([limits, rules]);
}

/**
 * The rate limits whose target is this sidecar's service, oldest first. A service-wide limit
 * goes on the default inbound route; a route-scoped one gets inbound routes with the matches of
 * the named VirtualService rule (its uri, method, headers and query; not authority, source or
 * gateway conditions, which mean nothing inbound), each with its own bucket.
 */
export function inboundRateLimits(ctx: GenerateContext, cluster: string): InboundRateLimits {
  const out: InboundRateLimits = { routes: [] };
  const { host, limits } = limitsFor(ctx);
  if (limits.length === 0) return out;
  out.filter = {
    name: LOCAL_RATELIMIT_FILTER_NAME,
    typed_config: { '@type': LOCAL_RATELIMIT_TYPE, stat_prefix: 'inbound_rate_limit' },
  };
  const serviceWide = limits.filter((l) => l.route === undefined);
  if (serviceWide.length > 1) {
    ctx.warn(
      `ratelimit/${host}`,
      `${serviceWide.length} rate limits target ${host} as a whole; the oldest (${serviceWide[0].kind} ${serviceWide[0].namespace}/${serviceWide[0].name}) applies`,
    );
  }
  if (serviceWide[0])
    out.defaultRoute = { [LOCAL_RATELIMIT_FILTER_NAME]: localRateLimitConfig(serviceWide[0]) };
  const disabled = duration(0);
  for (const limit of limits) {
    if (limit.route === undefined) continue;
    const rule = virtualServicesFor(ctx, host)
      .flatMap((vs) => vs.http)
      .find((r) => r.name === limit.route);
    if (!rule) {
      ctx.warn(
        `ratelimit/${limit.namespace}/${limit.name}`,
        `${limit.kind} ${limit.namespace}/${limit.name}: no VirtualService http route named ${limit.route} for ${host}; the limit is not applied`,
      );
      continue;
    }
    const config = localRateLimitConfig(limit);
    const matches = rule.matches.length === 0 ? [undefined] : rule.matches;
    for (const m of matches) {
      out.routes.push({
        name: `ratelimit.${limit.route}`,
        match: m ? routeMatch({ ...m, authority: undefined }) : { prefix: '/' },
        route: {
          cluster,
          timeout: disabled,
          max_stream_duration: { max_stream_duration: disabled, grpc_timeout_header_max: disabled },
        },
        typed_per_filter_config: { [LOCAL_RATELIMIT_FILTER_NAME]: config },
      });
    }
  }
  return out;
}

/** Where a cluster carries a Linkerd retry budget: weft's own filter metadata (Envoy has no field for it). */
export const RETRY_RATIO_METADATA_KEY = 'weft.retry_budget';

/** A ServiceProfile retry budget as cluster metadata, read by weft proxy's retry admission. */
export function retryRatioMetadata(budget: RetryRatioBudget): Metadata {
  return {
    filter_metadata: {
      // camelCase keys: the proxy camelizes snake_case keys of everything it decodes, Struct keys too.
      [RETRY_RATIO_METADATA_KEY]: jsonToStruct({
        retryRatio: budget.retryRatio,
        minRetriesPerSecond: budget.minRetriesPerSecond,
        ttlMs: budget.ttlMs,
      }),
    },
  };
}
