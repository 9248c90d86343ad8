// Service hostnames in the mesh's own words: the DNS name of a service, wildcard hosts and matching.

/** `name.namespace.svc.<domainSuffix>`: the hostname of a service in the mesh's own DNS zone. */
export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** True for `*` and `*.example.com`. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/**
 * Whether `pattern` (a host as in a VirtualService, possibly `*` or `*.example.com`) covers `host`.
 * A wildcard covers any name ending in its suffix, however many labels precede it, as in Istio.
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return false;
}

/**
 * The short service name of a hostname in the mesh's zone (`reviews.default.svc.cluster.local` →
 * `reviews`); other hostnames are returned whole.
 */
export function shortServiceName(hostname: string, domainSuffix: string): string {
  const suffix = `.svc.${domainSuffix}`;
  if (!hostname.endsWith(suffix)) return hostname;
  const labels = hostname.slice(0, -suffix.length).split('.');
  return labels.length === 2 ? labels[0] : hostname;
}
