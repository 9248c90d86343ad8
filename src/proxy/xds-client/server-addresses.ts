// The control plane's xDS addresses a proxy fails over between: each `host:port` of the list, a name expanded to every address it resolves to.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostOf } from '../common/host-address.ts';

/** Resolves a name to all its addresses, in the resolver's order (`dns.lookup` with `all`). */
export type ResolveAll = (name: string) => Promise<string[]>;

/** The system resolver (`/etc/hosts`, then DNS, as getaddrinfo does): every address of the name. */
export const systemResolveAll: ResolveAll = async (name) =>
  (await lookup(name, { all: true })).map((a) => a.address);

/** `ip:port`, bracketing an IPv6 address. */
function join(address: string, port: string): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Expands the comma-separated `host:port` list: an IP stays as it is, a name becomes one entry per
 * address it resolves to (replicas behind one DNS name), duplicates dropped, order kept. A name
 * that does not resolve is left out; rejects only when no entry gives an address.
 */
export async function resolveServerAddresses(list: string, resolve: ResolveAll): Promise<string[]> {
  const errors: string[] = [];
  const expanded = await Promise.all(
    list.split(',').map(async (entry) => {
      const host = hostOf(entry);
      if (isIP(host)) return [entry];
      const port = entry.slice(entry.lastIndexOf(':') + 1);
      try {
        return (await resolve(host)).map((address) => join(address, port));
      } catch (err) {
        errors.push(`${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return [];
      }
    }),
  );
  const addresses = [...new Set(expanded.flat())];
  if (addresses.length === 0) throw new Error(`cannot resolve the xDS server (${errors.join('; ')})`);
  return addresses;
}

/**
 * The xDS list a proxy uses after asking `servers` (API URLs) for the bootstrap: the xDS addresses
 * the replicas announced, then, for an API URL given by name, that name with each announced port:
 * replicas behind one DNS name are all reached through it when the announced one dies.
 */
export function xdsAddressList(servers: string[], announced: string[]): string {
  const ports = [...new Set(announced.map((a) => a.slice(a.lastIndexOf(':') + 1)))];
  const byName = servers
    .map((s) => new URL(s).hostname)
    .filter((host) => !isIP(host.replace(/^\[|\]$/g, '')))
    .flatMap((host) => ports.map((port) => `${host}:${port}`));
  return [...new Set([...announced, ...byName])].join(',');
}
