// Test helper: replays a request against decoded RDS output the way Envoy matches it (pilot-simulation style).

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
type Obj = Record<string, any>;

export interface SimRequest {
  authority: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export type SimResult =
  | { outcome: 'no-virtual-host' }
  | { outcome: 'no-route'; virtualHost: string }
  | {
      outcome: 'route';
      virtualHost: string;
      route: string | undefined;
      /** Forwarding: clusters with weights (one cluster → weight 100). */
      clusters?: { name: string; weight: number }[];
      action: Obj;
      redirect?: Obj;
      directResponse?: Obj;
    };

/** Envoy's virtual host selection: exact, then longest `*.suffix`, then longest `prefix*`, then `*`. */
export function selectVirtualHost(config: Obj, authority: string): Obj | undefined {
  const host = authority.toLowerCase();
  const vhosts: Obj[] = config.virtual_hosts ?? [];
  for (const vh of vhosts) if ((vh.domains as string[]).includes(host)) return vh;
  let best: { vh: Obj; len: number } | undefined;
  for (const vh of vhosts) {
    for (const d of vh.domains as string[]) {
      if (d.startsWith('*') && d.length > 1 && host.endsWith(d.slice(1)) && (!best || d.length > best.len)) {
        best = { vh, len: d.length };
      }
    }
  }
  if (best) return best.vh;
  for (const vh of vhosts) {
    for (const d of vh.domains as string[]) {
      if (
        d.endsWith('*') &&
        d.length > 1 &&
        host.startsWith(d.slice(0, -1)) &&
        (!best || d.length > best.len)
      ) {
        best = { vh, len: d.length };
      }
    }
  }
  if (best) return best.vh;
  return vhosts.find((vh) => (vh.domains as string[]).includes('*'));
}

function stringMatches(m: Obj, value: string): boolean {
  if (m.exact !== undefined) return value === m.exact;
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  if (m.suffix !== undefined) return value.endsWith(m.suffix);
  if (m.safe_regex) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(value);
  throw new Error(`unsupported string matcher ${JSON.stringify(m)}`);
}

function headerMatches(h: Obj, headers: Record<string, string>): boolean {
  const value = headers[h.name.toLowerCase()];
  let ok: boolean;
  if (h.present_match) ok = value !== undefined;
  else if (h.string_match) ok = value !== undefined && stringMatches(h.string_match, value);
  // The deprecated forms older gRPC clients are sent (generate/clients.ts).
  else if (h.exact_match !== undefined) ok = value === h.exact_match;
  else if (h.prefix_match !== undefined) ok = value?.startsWith(h.prefix_match) ?? false;
  else if (h.safe_regex_match)
    ok = value !== undefined && new RegExp(`^(?:${h.safe_regex_match.regex})$`).test(value);
  else throw new Error(`unsupported header matcher ${JSON.stringify(h)}`);
  return h.invert_match ? !ok : ok;
}

export function routeMatches(match: Obj, req: SimRequest): boolean {
  const method = req.method ?? 'GET';
  const full = req.path ?? '/';
  const [path, query = ''] = full.split('?');
  if (match.connect_matcher) return method === 'CONNECT';
  if (method === 'CONNECT') return false;
  const insensitive = match.case_sensitive?.value === false;
  const p = insensitive ? path.toLowerCase() : path;
  if (match.prefix !== undefined) {
    if (!p.startsWith(insensitive ? match.prefix.toLowerCase() : match.prefix)) return false;
  } else if (match.path !== undefined) {
    if (p !== (insensitive ? match.path.toLowerCase() : match.path)) return false;
  } else if (match.safe_regex) {
    if (!new RegExp(`^(?:${match.safe_regex.regex})$`, insensitive ? 'i' : '').test(path)) return false;
  } else return false;
  const headers: Record<string, string> = { ':method': method, ':authority': req.authority, ':path': full };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  for (const h of match.headers ?? []) if (!headerMatches(h, headers)) return false;
  const params = new URLSearchParams(query);
  for (const q of match.query_parameters ?? []) {
    const value = params.get(q.name);
    if (q.present_match) {
      if (value === null) return false;
    } else if (value === null || !stringMatches(q.string_match, value)) return false;
  }
  return true;
}

/** Which virtual host, route and cluster(s) a request would take through a RouteConfiguration. */
export function simulate(config: Obj, req: SimRequest): SimResult {
  const vh = selectVirtualHost(config, req.authority);
  if (!vh) return { outcome: 'no-virtual-host' };
  const route = (vh.routes as Obj[]).find((r) => routeMatches(r.match, req));
  if (!route) return { outcome: 'no-route', virtualHost: vh.name };
  const base = {
    outcome: 'route' as const,
    virtualHost: vh.name,
    route: route.name,
    action: route.route ?? {},
  };
  if (route.redirect) return { ...base, redirect: route.redirect };
  if (route.direct_response) return { ...base, directResponse: route.direct_response };
  const action = route.route;
  if (action.cluster) return { ...base, clusters: [{ name: action.cluster, weight: 100 }] };
  return {
    ...base,
    clusters: (action.weighted_clusters.clusters as Obj[]).map((c) => ({
      name: c.name,
      weight: c.weight.value,
    })),
  };
}
