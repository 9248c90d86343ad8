// ORIGINAL_DST hosts: one host per destination a request names, created on first use, the least recently used forgotten.
import { Host } from './host.ts';

/** How many destinations a cluster keeps pooled connections for (Envoy cleans up idle hosts on a timer). */
const MAX_HOSTS = 1024;

/**
 * `host:port`, `[v6]:port` or `host` (port 80) → address and port; undefined for anything else
 * (an empty host, a bad port, spaces).
 */
export function parseDestination(text: string | undefined): { address: string; port: number } | undefined {
  if (!text) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const port = m[3] === undefined ? 80 : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { address: (m[1] ?? m[2]).toLowerCase(), port };
}

export class OriginalDstHosts {
  /** Insertion order is recency order: a used host is moved to the end. */
  private readonly hosts = new Map<string, Host>();

  /** The host for `destination`, created on first use; undefined when it names no destination. */
  pick(destination: string | undefined): Host | undefined {
    const target = parseDestination(destination);
    if (!target) return undefined;
    const key = `${target.address}:${target.port}`;
    let host = this.hosts.get(key);
    if (host) {
      this.hosts.delete(key);
      this.hosts.set(key, host);
      return host;
    }
    host = new Host(target.address, target.port, 1);
    this.hosts.set(key, host);
    if (this.hosts.size > MAX_HOSTS) this.evict();
    return host;
  }

  /** Forgets the least recently used host that has no request in flight. */
  private evict(): void {
    for (const [key, host] of this.hosts) {
      if (host.active > 0) continue;
      this.hosts.delete(key);
      host.pool?.drain();
      return;
    }
  }

  all(): Host[] {
    return [...this.hosts.values()];
  }
}
