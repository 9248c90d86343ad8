// Service hostnames: qualifying short names as Istio and Kubernetes DNS do, and wildcard matching.

/** How a host is read in the context of the resource that names it. */
export interface HostContext {
  /** Namespace of the resource naming the host; short names are relative to it. */
  namespace: string;
  /** DNS suffix of the mesh, e.g. `cluster.local` (MeshSettings.domainSuffix). */
  domainSuffix: string;
  /**
   * Namespaces the mesh knows (buildSnapshot counts `default`, the root namespace, and every
   * namespace that holds a resource or a workload). A two-label host `name.ns`
   * is qualified to `name.ns.svc.<domainSuffix>` only when `ns` is one of them, as Kubernetes
   * DNS resolves `name.ns`; otherwise (`httpbin.org`) it is taken literally, as Istio does.
   */
  namespaces?: ReadonlySet<string>;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(text: string): boolean {
  const m = IPV4.exec(text);
  if (m === null) return false;
  return m.slice(1).every((octet) => Number(octet) <= 255 && String(Number(octet)) === octet);
}

export function isIpv6(text: string): boolean {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIpAddress(text: string): boolean {
  return isIpv4(text) || isIpv6(text);
}

/** `name.namespace.svc.<domainSuffix>`: the hostname of a service in the mesh's own DNS zone. */
export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** True for `*` and `*.example.com`. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/**
 * Turns a host as written in a resource into the fully qualified form used in the model:
 * `reviews` → `reviews.<ns>.svc.<suffix>`; `reviews.prod` → `reviews.prod.svc.<suffix>` when
 * `prod` is a known namespace; `reviews.prod.svc` → `reviews.prod.svc.<suffix>`;
 * `api.example.com`, `*`, `*.example.com` and IP addresses unchanged.
 * Hosts are lower-cased (DNS names are case-insensitive).
 */
export function qualifyHost(host: string, context: HostContext): string {
  const name = host.trim().toLowerCase();
  if (name === '' || isWildcardHost(name) || isIpAddress(name)) return name;
  const labels = name.split('.');
  if (labels.length === 1) return serviceHostname(name, context.namespace, context.domainSuffix);
  if (labels.length === 2 && context.namespaces?.has(labels[1])) return `${name}.svc.${context.domainSuffix}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${name}.${context.domainSuffix}`;
  return name;
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

const LABEL = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/i;

/**
 * Checks the syntax of a host as Istio does: DNS labels, optionally a leading `*` label
 * (`*`, `*.example.com`; `*foo.example.com` is rejected), or an IP address when allowed.
 * Returns why it is not acceptable, or undefined.
 */
export function hostSyntaxError(host: string, options: { allowIp?: boolean } = {}): string | undefined {
  if (host === '') return 'host is empty';
  if (host.length > 253) return `host "${host}" is longer than 253 characters`;
  if (isIpAddress(host))
    return options.allowIp ? undefined : `host "${host}" is an IP address; a hostname is expected here`;
  if (host === '*') return undefined;
  const labels = host.split('.');
  const first = labels[0] === '*' ? labels.slice(1) : labels;
  if (first.length === 0) return `host "${host}" is not a valid hostname`;
  for (const label of first)
    if (!LABEL.test(label))
      return `host "${host}" is not a valid hostname (label "${label}"); use DNS labels and at most a leading "*."`;
  return undefined;
}
