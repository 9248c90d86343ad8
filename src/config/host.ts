// Hosts as resources write them: qualifying short names as Istio and Kubernetes DNS do, and syntax checks.
import { isWildcardHost, serviceHostname } from '../model/hostnames.ts';

/** How a host is read in the context of the resource that names it. */
export interface HostContext {
  /** Namespace of the resource naming the host; short names are relative to it. */
  namespace: string;
  /** DNS suffix of the mesh, e.g. `cluster.local` (MeshSettings.domainSuffix). */
  domainSuffix: string;
  /**
   * Namespaces the mesh knows (`meshNamespaces`: `default`, the root namespace, and every
   * namespace that holds a resource or a workload). A two-label host `name.ns`
   * is qualified to `name.ns.svc.<domainSuffix>` only when `ns` is one of them, as Kubernetes
   * DNS resolves `name.ns`; otherwise (`httpbin.org`) it is taken literally, as Istio does.
   * Only `has` is asked, so the compiled-resource cache can record which namespaces a resource
   * depended on (src/control/compiled-store.ts).
   */
  namespaces?: { has(namespace: string): boolean };
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
