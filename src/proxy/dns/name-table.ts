// The mesh's names and VIPs as this proxy knows them, read from its outbound RouteConfiguration (a VIP is a virtual host domain, as in Istio).
import { isIP } from 'node:net';
import type { RouteTable, VirtualHost } from '../http/router/route-table.ts';

/** Addresses a mesh name resolves to, by family. */
export interface MeshAddresses {
  v4: string[];
  v6: string[];
}

/** What mesh DNS answers and what transparent capture routes by. */
export interface NameTable {
  /** Lowercase name (`reviews`, `reviews.default`, `api.example.com`, no port, no trailing dot) → its VIPs. */
  names: Map<string, MeshAddresses>;
  /** `VIP:PORT` (`[v6]:PORT` for IPv6) → the virtual host of that service port. */
  vips: Map<string, VirtualHost>;
}

const EMPTY: NameTable = { names: new Map(), vips: new Map() };
const built = new WeakMap<RouteTable, NameTable>();

/** `host:port`, `[v6]:port`, `host` or `[v6]` split; the host without brackets. */
function splitDomain(domain: string): { host: string; port: string | undefined } {
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    const rest = domain.slice(close + 1);
    return { host: domain.slice(1, close), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = domain.lastIndexOf(':');
  return colon < 0
    ? { host: domain, port: undefined }
    : { host: domain.slice(0, colon), port: domain.slice(colon + 1) };
}

function tableOf(routes: RouteTable): NameTable {
  const names = new Map<string, MeshAddresses>();
  const vips = new Map<string, VirtualHost>();
  for (const vhost of routes.virtualHosts) {
    const v4: string[] = [];
    const v6: string[] = [];
    const hostNames: string[] = [];
    for (const domain of vhost.domains) {
      if (domain.includes('*')) continue;
      const { host, port } = splitDomain(domain.toLowerCase());
      const family = isIP(host);
      if (family === 0) hostNames.push(host);
      else if (port !== undefined) vips.set(domain.toLowerCase(), vhost);
      const list = family === 4 ? v4 : v6;
      if (family !== 0 && !list.includes(host)) list.push(host);
    }
    if (v4.length === 0 && v6.length === 0) continue;
    for (const name of hostNames) {
      const known = names.get(name);
      if (!known) names.set(name, { v4: [...v4], v6: [...v6] });
      else {
        for (const a of v4) if (!known.v4.includes(a)) known.v4.push(a);
        for (const a of v6) if (!known.v6.includes(a)) known.v6.push(a);
      }
    }
  }
  return { names, vips };
}

/** The name table of a RouteConfiguration, built once per compiled version. */
export function nameTableOf(routes: RouteTable | undefined): NameTable {
  if (!routes) return EMPTY;
  let table = built.get(routes);
  if (!table) {
    table = tableOf(routes);
    built.set(routes, table);
  }
  return table;
}

/** The key of `address:port` in `NameTable.vips`. */
export function vipKey(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
