// Reaching a connected proxy's admin port from the control plane: find it by name, fetch an endpoint, list the ones to scrape.
import { type Dispatcher, request } from 'undici';
import { NotFoundError, ServerUnavailableError, UsageError } from '../../errors.ts';
import type { ProxyNode } from '../xds/node.ts';
import { peerIp } from '../xds/node.ts';
import type { StatsClientTls } from './stats-client.ts';

/** A connected weft proxy with an admin port. */
export interface AdminProxy {
  id: string;
  proxy: ProxyNode;
  /** `http://host:port` of its admin endpoints, or `https://host:port` of its stats port. */
  admin: string;
  /** For a stats port: the mutual TLS client that reaches it. */
  dispatcher?: Dispatcher;
}

/**
 * Connected proxies that declared an admin port (gateways included). A proxy on another host
 * (admin on its loopback) is reached on its stats port, with `tls` (the control plane's identity).
 */
export function adminProxies(
  connected: { proxy: ProxyNode; peer: string }[],
  tls?: StatsClientTls,
): AdminProxy[] {
  const out: AdminProxy[] = [];
  for (const { proxy, peer } of connected) {
    if (proxy.kind !== 'sidecar' || proxy.adminPort === undefined) continue;
    const ip = peerIp(peer);
    const host = ip.includes(':') ? `[${ip}]` : ip || '127.0.0.1';
    if (proxy.statsPort !== undefined && tls)
      out.push({
        id: proxy.id,
        proxy,
        admin: `https://${host}:${proxy.statsPort}`,
        dispatcher: tls.dispatcher(proxy.namespace, proxy.serviceAccount),
      });
    else out.push({ id: proxy.id, proxy, admin: `http://${host}:${proxy.adminPort}` });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The pod part of a node id (`sidecar~ip~pod~ns.svc.cluster.local`). */
export function podOf(id: string): string {
  return id.split('~')[2] ?? id;
}

/** The proxy `name` names: its node id, its pod name, or a unique part of its node id. */
export function findProxy(proxies: AdminProxy[], name: string): AdminProxy {
  const exact = proxies.find((p) => p.id === name || podOf(p.id) === name);
  if (exact) return exact;
  const partial = proxies.filter((p) => p.id.includes(name));
  if (partial.length === 1) return partial[0];
  if (partial.length > 1)
    throw new UsageError(
      `proxy ${JSON.stringify(name)} matches ${partial.length} proxies (${partial.map((p) => podOf(p.id)).join(', ')}); give more of its name`,
    );
  throw new NotFoundError(
    `no connected proxy is named ${JSON.stringify(name)} (weft proxy-status lists them)`,
  );
}

/** Admin endpoints the control plane relays (read-only; /certs shows certificates, never keys). */
export const RELAYED = ['config_dump', 'clusters', 'listeners', 'certs', 'server_info'] as const;

/** GETs `path` of a proxy's admin port as JSON within `timeoutMs`. */
export async function adminJson(proxy: AdminProxy, path: string, timeoutMs = 5000): Promise<unknown> {
  try {
    const r = await request(`${proxy.admin}${path}`, {
      dispatcher: proxy.dispatcher,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (r.statusCode !== 200) {
      await r.body.dump();
      throw new Error(`answered ${r.statusCode}`);
    }
    return await r.body.json();
  } catch (err) {
    throw new ServerUnavailableError(
      `proxy ${podOf(proxy.id)}'s admin port (${proxy.admin}${path}) did not answer: ${(err as Error).message}`,
    );
  }
}
