// The router: turns a request head into a decision (forward to a cluster, or answer locally).

import type { Cluster } from '../../cluster/cluster.ts';
import type { ClusterManager } from '../../cluster/cluster-manager.ts';
import { combineHash, hash32 } from '../../cluster/lb/hash.ts';
import type { ResponseFlag } from '../../common/response-flags.ts';
import type { HcmConfig } from '../connection-manager-config.ts';
import type { RequestHead } from '../request-head.ts';
import { applyRequestMutations, applyResponseMutations } from './header-mutations.ts';
import { parseQuery } from './matchers.ts';
import { findRoute, findVirtualHost, pickWeightedCluster, rewritePath } from './route-match.ts';
import type {
  ForwardAction,
  RedirectAction,
  Route,
  RouteTable,
  VirtualHost,
  WeightedCluster,
} from './route-table.ts';

/** What the router decided for one request. Reused per connection to avoid garbage. */
export class RouteDecision {
  outcome: 'forward' | 'local' = 'local';
  /** The route table the request was matched in (its response header changes apply too). */
  table: RouteTable | undefined;
  vhost: VirtualHost | undefined;
  route: Route | undefined;
  action: ForwardAction | undefined;
  weighted: WeightedCluster | undefined;
  cluster: Cluster | undefined;
  /** Local reply status/body/flag. */
  status = 0;
  body = '';
  flag: ResponseFlag | undefined;
  /** Extra local-reply headers (e.g. location). */
  headers: string[] | undefined;
  /** Request hash for consistent-hash load balancers. */
  hash: number | undefined;
  /** ORIGINAL_DST clusters: the destination the request names (its authority, or the configured header). */
  originalDst: string | undefined;
  /** Response headers to set (e.g. a generated hash cookie). */
  setCookie: string | undefined;

  reset(): void {
    this.outcome = 'local';
    this.table = undefined;
    this.vhost = undefined;
    this.route = undefined;
    this.action = undefined;
    this.weighted = undefined;
    this.cluster = undefined;
    this.status = 0;
    this.body = '';
    this.flag = undefined;
    this.headers = undefined;
    this.hash = undefined;
    this.originalDst = undefined;
    this.setCookie = undefined;
  }

  local(status: number, body: string, flag: ResponseFlag | undefined): RouteDecision {
    this.outcome = 'local';
    this.status = status;
    this.body = body;
    this.flag = flag;
    return this;
  }
}

/** Host used for virtual-host matching after the HCM's port-stripping policy. */
function matchAuthority(hcm: HcmConfig, authority: string): string {
  if (hcm.stripPort === 'none') return authority;
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.endsWith(']')) return authority;
  if (hcm.stripPort === 'any' || authority.slice(colon + 1) === String(hcm.listenerPort))
    return authority.slice(0, colon);
  return authority;
}

/**
 * The virtual host and route a request matches, in the table it was matched in. The stream keeps
 * it for the rest of the request (filters ask for it, then the router uses it) until a filter
 * changes what matching reads and clears it (Envoy's route cache).
 */
export interface RouteMatchResult {
  table: RouteTable;
  vhost: VirtualHost;
  route: Route | undefined;
}

export function matchRoute(
  hcm: HcmConfig,
  table: RouteTable | undefined,
  head: RequestHead,
): RouteMatchResult | undefined {
  if (!table) return undefined;
  const vhost = findVirtualHost(table, matchAuthority(hcm, head.authority));
  if (!vhost) return undefined;
  return { table, vhost, route: findRoute(vhost, head) };
}

/** Per-route config of a filter: the route's entry, else the virtual host's. */
export function perFilterConfig(m: RouteMatchResult | undefined, filterName: string): unknown {
  if (!m) return undefined;
  const route = m.route?.perFilter;
  const vhost = m.vhost.perFilter;
  // Most routes hold none: no lookup then.
  return (
    (route !== undefined && route.size > 0 ? route.get(filterName) : undefined) ??
    (vhost.size > 0 ? vhost.get(filterName) : undefined)
  );
}

/** The first cluster a matched route forwards to. */
export function firstCluster(m: RouteMatchResult | undefined): string | undefined {
  const a = m?.route?.action;
  return a?.kind === 'forward' ? a.clusters[0]?.name : undefined;
}

/**
 * Routes a request from its match (see matchRoute): cluster, or a local answer; applies the
 * route's rewrites and header mutations to `head` when forwarding. Fills and returns `d`.
 */
export function decide(
  m: RouteMatchResult | undefined,
  clusters: ClusterManager,
  head: RequestHead,
  d: RouteDecision,
): RouteDecision {
  d.reset();
  if (m === undefined || m.route === undefined) return d.local(404, '', 'NR');
  const { table, vhost, route } = m;
  d.table = table;
  d.vhost = vhost;
  d.route = route;
  const action = route.action;
  if (action.kind === 'direct') {
    d.local(action.status, action.body, undefined);
    return d;
  }
  if (action.kind === 'redirect') {
    d.local(action.code, '', undefined);
    d.headers = ['location', redirectLocation(action, route, head)];
    return d;
  }
  let wc: WeightedCluster;
  let clusterName: string;
  if (action.clusterHeader) {
    clusterName = head.get(action.clusterHeader) ?? '';
    wc = {
      name: clusterName,
      weight: 1,
      request: { add: [], remove: [] },
      response: { add: [], remove: [] },
    };
  } else {
    wc = pickWeightedCluster(action, action.clusters.length === 1 ? 0 : Math.random());
    clusterName = wc.name;
  }
  const cluster = clusters.get(clusterName);
  if (!cluster) return d.local(action.clusterNotFoundStatus, 'cluster not found', 'NC');
  d.outcome = 'forward';
  d.action = action;
  d.weighted = wc;
  d.cluster = cluster;
  if (action.hashPolicies.length > 0) computeHash(action, head, d);
  // Before any rewrite: the destination is what the client asked for.
  if (cluster.config.type === 'ORIGINAL_DST')
    d.originalDst = cluster.config.originalDstHeader
      ? head.get(cluster.config.originalDstHeader)
      : head.authority;
  // Request header changes: weighted cluster, route, virtual host, route configuration (Envoy's order of precedence).
  if (wc.request.add.length > 0 || wc.request.remove.length > 0) applyRequestMutations(wc.request, head);
  if (route.request.add.length > 0 || route.request.remove.length > 0)
    applyRequestMutations(route.request, head);
  if (vhost.request.add.length > 0 || vhost.request.remove.length > 0)
    applyRequestMutations(vhost.request, head);
  if (table.request.add.length > 0 || table.request.remove.length > 0)
    applyRequestMutations(table.request, head);
  if (action.prefixRewrite !== undefined || action.regexRewrite)
    head.path = rewritePath(action, route, head.path);
  const hostRewrite = wc.hostRewriteLiteral ?? action.hostRewriteLiteral;
  if (hostRewrite) head.authority = hostRewrite;
  else if (action.hostRewriteHeader) {
    const v = head.get(action.hostRewriteHeader);
    if (v) head.authority = v;
  }
  return d;
}

/**
 * Response header changes of a forwarded request, in Envoy's order: weighted cluster, route,
 * virtual host, route configuration.
 */
export function applyRouteResponseMutations(d: RouteDecision, headers: string[]): void {
  const w = d.weighted;
  if (w && w.response.add.length + w.response.remove.length > 0) applyResponseMutations(w.response, headers);
  const route = d.route;
  if (route && route.response.add.length + route.response.remove.length > 0)
    applyResponseMutations(route.response, headers);
  const vh = d.vhost;
  if (vh && vh.response.add.length + vh.response.remove.length > 0)
    applyResponseMutations(vh.response, headers);
  const table = d.table;
  if (table && table.response.add.length + table.response.remove.length > 0)
    applyResponseMutations(table.response, headers);
}

function computeHash(action: ForwardAction, head: RequestHead, d: RouteDecision): void {
  let hash: number | undefined;
  for (const p of action.hashPolicies) {
    let key: string | undefined;
    switch (p.kind) {
      case 'header':
        key = head.getAll(p.name);
        break;
      case 'query':
        key = parseQuery(head.path).get(p.name);
        break;
      case 'source_ip':
        key = head.remoteAddress || undefined;
        break;
      case 'cookie': {
        key = readCookie(head.getAll('cookie'), p.name);
        if (key === undefined && p.ttlMs !== undefined) {
          // Envoy generates the cookie when a TTL is set, so that the client sticks from now on.
          key = hash32(`${head.remoteAddress}${Math.random()}`).toString(16);
          const path = p.path ? `; Path=${p.path}` : '';
          const maxAge = p.ttlMs > 0 ? `; Max-Age=${Math.floor(p.ttlMs / 1000)}` : '';
          d.setCookie = `${p.name}="${key}"${maxAge}${path}; HttpOnly`;
        }
        break;
      }
    }
    if (key === undefined) continue;
    const h = hash32(key);
    hash = hash === undefined ? h : combineHash(hash, h);
    if (p.terminal) break;
  }
  d.hash = hash;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/;\s*|,\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}

function redirectLocation(r: RedirectAction, route: Route, head: RequestHead): string {
  const scheme = r.scheme ?? head.scheme;
  let host = r.host ?? head.authority;
  if (r.port !== undefined) host = `${host.replace(/:\d+$/, '')}:${r.port}`;
  else if (r.scheme && r.host === undefined) host = host.replace(/:\d+$/, '');
  let path = head.path;
  const q = path.indexOf('?');
  const query = q < 0 ? '' : path.slice(q);
  if (r.path !== undefined) path = r.path.includes('?') ? r.path : r.path + query;
  else if (
    r.prefixRewrite !== undefined &&
    (route.match.path === 'prefix' || route.match.path === 'separated')
  )
    // Envoy: the matched prefix is replaced; the rest of the path and the query are kept.
    path = r.prefixRewrite + path.slice(route.match.value.length);
  if (r.stripQuery) path = path.split('?')[0];
  return `${scheme}://${host}${path}`;
}
