// Route lookups on a compiled RouteConfiguration: virtual host by authority, first matching route, rewrites.
import type { RequestHead } from '../request-head.ts';
import { matchHeader, matchQuery, parseQuery } from './matchers.ts';
import type { ForwardAction, Route, RouteTable, VirtualHost, WeightedCluster } from './route-table.ts';

/** Envoy's virtual-host selection: exact, then longest suffix wildcard, then longest prefix wildcard, then `*`. */
export function findVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  const host = lowerHost(authority);
  const exact = table.exact.get(host);
  if (exact) return exact;
  for (const s of table.suffixes)
    if (host.endsWith(s.suffix) && host.length > s.suffix.length) return s.vhost;
  for (const p of table.prefixes)
    if (host.startsWith(p.prefix) && host.length > p.prefix.length) return p.vhost;
  return table.wildcard;
}

/** `authority` lowercased: itself when it has no uppercase letter (most do), without a call into the runtime. */
function lowerHost(authority: string): string {
  for (let i = 0; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return authority.toLowerCase();
  }
  return authority;
}

/** The first route of the virtual host that matches the request, or undefined. */
export function findRoute(vhost: VirtualHost, head: RequestHead): Route | undefined {
  const isConnect = head.method === 'CONNECT';
  let pathOnly: string | undefined;
  let query: Map<string, string> | undefined;
  for (const route of vhost.routes) {
    const m = route.match;
    if (m.path === 'connect') {
      if (!isConnect) continue;
    } else {
      if (isConnect) continue;
      if (pathOnly === undefined) pathOnly = head.pathOnly();
      const p = m.caseSensitive || m.path === 'regex' ? pathOnly : pathOnly.toLowerCase();
      switch (m.path) {
        case 'prefix':
          if (!p.startsWith(m.value)) continue;
          break;
        case 'path':
          if (p !== m.value) continue;
          break;
        case 'regex':
          if (!m.regex!.testExact(p)) continue;
          break;
        case 'separated':
          if (!(p === m.value || (p.startsWith(m.value) && p.charCodeAt(m.value.length) === 47))) continue;
          break;
      }
    }
    if (m.grpc && !(head.get('content-type') ?? '').startsWith('application/grpc')) continue;
    let ok = true;
    for (const h of m.headers) {
      if (!matchHeader(h, head)) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (m.query.length > 0) {
      if (query === undefined) query = parseQuery(head.path);
      for (const q of m.query) {
        if (!matchQuery(q, query)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
    }
    return route;
  }
  return undefined;
}

const GRPC_TIMEOUT_UNITS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** `grpc-timeout` (`100m`, `5S`, ...) in ms, or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  return m ? Math.ceil(Number(m[1]) * GRPC_TIMEOUT_UNITS[m[2]]) : undefined;
}

/**
 * The timeout a request gets (ms; 0 = none): the route timeout, replaced by its `grpc-timeout`
 * when the route honours that header, and never beyond max_stream_duration (Envoy's rules).
 */
export function effectiveTimeout(action: ForwardAction, head: RequestHead): number {
  let t = action.timeoutMs;
  if (action.grpcTimeoutMaxMs !== undefined) {
    const g = parseGrpcTimeout(head.get('grpc-timeout'));
    if (g !== undefined) t = action.grpcTimeoutMaxMs > 0 ? Math.min(g, action.grpcTimeoutMaxMs) : g;
  }
  if (action.maxStreamDurationMs > 0 && (t === 0 || action.maxStreamDurationMs < t))
    t = action.maxStreamDurationMs;
  return t;
}

/** Picks a cluster of a forward action (weighted by `weight`); `random` is in [0, 1). */
export function pickWeightedCluster(action: ForwardAction, random: number): WeightedCluster {
  const clusters = action.clusters;
  if (clusters.length === 1) return clusters[0];
  let point = Math.floor(random * action.totalWeight);
  for (const c of clusters) {
    if (point < c.weight) return c;
    point -= c.weight;
  }
  return clusters[clusters.length - 1];
}

/** Rewrites the request path per the route's prefix_rewrite / regex_rewrite. */
export function rewritePath(action: ForwardAction, route: Route, path: string): string {
  if (
    action.prefixRewrite !== undefined &&
    (route.match.path === 'prefix' || route.match.path === 'separated')
  ) {
    const len = route.match.value.length;
    return action.prefixRewrite + path.slice(len);
  }
  if (action.regexRewrite) {
    const q = path.indexOf('?');
    const p = q < 0 ? path : path.slice(0, q);
    const rest = q < 0 ? '' : path.slice(q);
    return action.regexRewrite.regex.matcher(p).replaceAll(action.regexRewrite.substitution) + rest;
  }
  return path;
}
