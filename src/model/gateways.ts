// Gateways in the model: which Gateways configure a gateway proxy, and Gateway API routes as VirtualServices.
import { hostMatches, isWildcardHost } from './hostnames.ts';
import { selectorMatches } from './labels.ts';
import { withReferenceGrants } from './reference-grants.ts';
import type {
  GatewayApiRouteModel,
  GatewayModel,
  GatewayServer,
  HttpRoute,
  Labels,
  ReferenceGrantModel,
  RejectedResource,
  RouteParent,
  VirtualServiceModel,
} from './types.ts';

/** `namespace/name`, the way VirtualService `gateways` name a Gateway. */
export function gatewayKey(gateway: { namespace: string; name: string }): string {
  return `${gateway.namespace}/${gateway.name}`;
}

/**
 * The Gateways that configure a gateway proxy with these labels in `namespace`: Istio Gateways
 * whose selector its labels contain (any namespace, Istio's default), and Gateway API Gateways
 * of its own namespace that select it by `gateway.networking.k8s.io/gateway-name`.
 */
export function gatewaysForProxy(
  gateways: readonly GatewayModel[],
  labels: Labels,
  namespace: string,
): GatewayModel[] {
  return gateways.filter(
    (g) =>
      (g.selectorNamespace === undefined || g.selectorNamespace === namespace) &&
      selectorMatches(g.selector, labels),
  );
}

/**
 * The hostnames both a route and a listener accept (Gateway API hostname intersection): the
 * more specific of each pair that overlaps. A route without hostnames takes the listener's.
 */
export function intersectHostnames(listener: string, route: readonly string[]): string[] {
  if (route.length === 0) return [listener];
  const out = new Set<string>();
  for (const host of route) {
    if (hostMatches(listener, host)) out.add(host);
    else if (isWildcardHost(host) && hostMatches(host, listener)) out.add(listener);
  }
  return [...out];
}

/** Gateway API's reasons for a route condition `Accepted: False`. */
export type NotAcceptedReason = 'NoMatchingParent' | 'NotAllowedByListeners' | 'NoMatchingListenerHostname';

/** Whether a parent took a route; when not, why (Gateway API's `Accepted: false` reason, and in words). */
export type Attachment =
  | {
      outcome: 'attached';
      group: string;
      hosts: string[];
      ports?: number[];
      exportTo: string[];
      namespace: string;
    }
  | { outcome: 'refused'; reason: string; condition: NotAcceptedReason };

function parentText(parent: RouteParent): string {
  const section =
    parent.kind === 'Gateway' && parent.sectionName !== undefined ? `/${parent.sectionName}` : '';
  return `${parent.kind} ${parent.namespace}/${parent.name}${section}${parent.port === undefined ? '' : `:${parent.port}`}`;
}

function acceptsRoute(server: GatewayServer, gateway: GatewayModel, route: GatewayApiRouteModel): boolean {
  const allowed = server.allowedRoutes;
  if (allowed === undefined) return false;
  if (allowed.namespaces === 'Same' && route.namespace !== gateway.namespace) return false;
  if (!allowed.kinds.includes(route.kind)) return false;
  const protocol = server.port.protocol;
  if (route.kind === 'TCPRoute') return protocol === 'TCP';
  if (route.kind === 'TLSRoute') return protocol === 'TLS' && server.tls?.mode === 'PASSTHROUGH';
  return protocol === 'HTTP' || protocol === 'HTTPS';
}

/** Whether `parent` takes `route` (a Service parent always does). */
export function attach(
  route: GatewayApiRouteModel,
  parent: RouteParent,
  gateways: readonly GatewayModel[],
): Attachment {
  if (parent.kind === 'Service') {
    // GAMMA: a route in the Service's namespace (producer) applies to every client; one in
    // another namespace (consumer) only to clients in its own namespace.
    const producer = route.namespace === parent.namespace;
    return {
      outcome: 'attached',
      group: `mesh|${parent.hostname}|${producer ? '*' : route.namespace}`,
      hosts: [parent.hostname],
      ...(parent.port === undefined ? {} : { ports: [parent.port] }),
      exportTo: producer ? ['*'] : [route.namespace],
      namespace: route.namespace,
    };
  }
  const gateway = gateways.find(
    (g) => g.dialect === 'gateway-api' && g.namespace === parent.namespace && g.name === parent.name,
  );
  if (gateway === undefined)
    return {
      outcome: 'refused',
      condition: 'NoMatchingParent',
      reason: `Gateway ${parent.namespace}/${parent.name} (gateway.networking.k8s.io) does not exist`,
    };
  if (gateway.notServed !== undefined)
    return {
      outcome: 'refused',
      condition: 'NoMatchingParent',
      reason: `Gateway ${parent.namespace}/${parent.name}: ${gateway.notServed}`,
    };
  const listeners = gateway.servers.filter(
    (s) =>
      (parent.sectionName === undefined || s.name === parent.sectionName) &&
      (parent.port === undefined || s.port.number === parent.port),
  );
  if (listeners.length === 0)
    return {
      outcome: 'refused',
      condition: 'NoMatchingParent',
      reason: `${parentText(parent)} names no listener of the Gateway`,
    };
  const accepting = listeners.filter((s) => acceptsRoute(s, gateway, route));
  if (accepting.length === 0)
    return {
      outcome: 'refused',
      condition: 'NotAllowedByListeners',
      reason: `no listener of ${parentText(parent)} allows ${route.kind}s from namespace ${route.namespace} (allowedRoutes)`,
    };
  const hosts = new Set<string>();
  const ports = new Set<number>();
  for (const s of accepting) {
    const matched = intersectHostnames(s.hosts[0]?.host ?? '*', route.hostnames);
    if (matched.length === 0) continue;
    for (const h of matched) hosts.add(h);
    ports.add(s.port.number);
  }
  if (hosts.size === 0)
    return {
      outcome: 'refused',
      condition: 'NoMatchingListenerHostname',
      reason: `no hostname of the route matches a listener of ${parentText(parent)}`,
    };
  // Only the chosen listeners' ports, when the route named a section or port (and always for
  // TCP and TLS routes, whose VirtualService rules match by port).
  const narrowed =
    parent.sectionName !== undefined || parent.port !== undefined || route.streams !== undefined;
  return {
    outcome: 'attached',
    group: `gateway|${gatewayKey(gateway)}`,
    hosts: [...hosts],
    ...(narrowed ? { ports: [...ports].sort((a, b) => a - b) } : {}),
    exportTo: ['*'],
    namespace: gateway.namespace,
  };
}

/** Compares Gateway API precedence ranks: higher first, element by element. */
function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A route's rule narrowed to some ports (copies of its matches, one per port). */
function onPorts(rule: HttpRoute, ports: readonly number[] | undefined): HttpRoute {
  if (ports === undefined) return rule;
  return { ...rule, matches: rule.matches.flatMap((m) => ports.map((port) => ({ ...m, port }))) };
}

/** What the Gateway API routes mean: VirtualServices, and routes no parent accepted. */
export interface GatewayApiResult {
  virtualServices: VirtualServiceModel[];
  /** Routes that attach nowhere, with why (shown as left out of the snapshot). */
  unattached: RejectedResource[];
}

/**
 * Turns HTTPRoutes and GRPCRoutes (oldest first) into VirtualServices: one per parent and
 * hostname, holding the rules of every route attached there that covers the hostname, sorted
 * by Gateway API precedence (path, method, headers, query parameters; then route age, then
 * rule order). Gateway parents give VirtualServices bound to that Gateway; Service parents
 * (GAMMA) give VirtualServices bound to `mesh` for the Service's host.
 */
export function gatewayApiVirtualServices(
  written: readonly GatewayApiRouteModel[],
  gateways: readonly GatewayModel[],
  grants: readonly ReferenceGrantModel[] = [],
): GatewayApiResult {
  const routes = written.map((route) => withReferenceGrants(route, grants));
  interface Entry {
    rule: HttpRoute;
    rank: readonly number[];
    age: number;
    order: number;
    hosts: readonly string[];
  }
  const groups = new Map<
    string,
    { entries: Entry[]; gateway?: string; exportTo: string[]; namespace: string }
  >();
  const unattached: RejectedResource[] = [];
  const streamServices: VirtualServiceModel[] = [];
  routes.forEach((route, age) => {
    const reasons: string[] = [];
    let attachedSomewhere = false;
    if (route.parents.length === 0)
      reasons.push('spec.parentRefs: no parentRefs, so the route attaches to no Gateway and no Service');
    if (route.streams?.length === 0) {
      unattached.push({
        kind: route.kind,
        namespace: route.namespace,
        name: route.name,
        issues: [
          'spec.rules[0].backendRefs: no backend is usable (weights 0, or other namespaces without a ReferenceGrant)',
        ],
      });
      return;
    }
    route.parents.forEach((parent, p) => {
      const result = attach(route, parent, gateways);
      if (result.outcome === 'refused') {
        reasons.push(`spec.parentRefs[${p}]: ${result.reason}`);
        return;
      }
      attachedSomewhere = true;
      if (route.streams !== undefined) {
        streamServices.push(streamVirtualService(route, parent, result));
        return;
      }
      let group = groups.get(result.group);
      if (group === undefined) {
        group = {
          entries: [],
          gateway: parent.kind === 'Gateway' ? `${parent.namespace}/${parent.name}` : undefined,
          exportTo: result.exportTo,
          namespace: result.namespace,
        };
        groups.set(result.group, group);
      }
      for (const [order, { route: rule, rank }] of route.rules.entries())
        group.entries.push({ rule: onPorts(rule, result.ports), rank, age, order, hosts: result.hosts });
    });
    if (!attachedSomewhere)
      unattached.push({ kind: route.kind, namespace: route.namespace, name: route.name, issues: reasons });
  });
  const virtualServices: VirtualServiceModel[] = [];
  for (const [key, group] of groups) {
    const hostnames = [...new Set(group.entries.flatMap((e) => e.hosts))].sort();
    for (const hostname of hostnames) {
      const entries = group.entries
        .filter((e) => e.hosts.some((h) => h === hostname || (isWildcardHost(h) && hostMatches(h, hostname))))
        .sort((a, b) => compareRanks(a.rank, b.rank) || a.age - b.age || a.order - b.order);
      virtualServices.push({
        name: `${key}|${hostname}`,
        namespace: group.namespace,
        hosts: [hostname],
        gateways: group.gateway === undefined ? ['mesh'] : [group.gateway],
        http: entries.map((e) => e.rule),
        tcp: [],
        exportTo: group.exportTo,
      });
    }
  }
  return { virtualServices: [...virtualServices, ...streamServices], unattached };
}

/**
 * The VirtualService of a TCPRoute or TLSRoute on one parent: `tcp[]` (matched by the accepting
 * listeners' ports) or `tls[]` (by SNI, the route's hostnames matched with the listeners').
 */
function streamVirtualService(
  route: GatewayApiRouteModel,
  parent: RouteParent,
  attached: Extract<Attachment, { outcome: 'attached' }>,
): VirtualServiceModel {
  const route4 = route.streams ?? [];
  const ports = attached.ports ?? [undefined];
  const tls = route.kind === 'TLSRoute';
  return {
    name: `${attached.group}|${route.kind}|${route.namespace}/${route.name}`,
    namespace: attached.namespace,
    hosts: tls || parent.kind === 'Service' ? attached.hosts : ['*'],
    gateways: parent.kind === 'Gateway' ? [`${parent.namespace}/${parent.name}`] : ['mesh'],
    http: [],
    tcp: tls ? [] : [{ matches: ports.map((port) => (port === undefined ? {} : { port })), route: route4 }],
    ...(tls
      ? {
          tls: [
            {
              matches: ports.map((port) => ({
                sniHosts: attached.hosts,
                ...(port === undefined ? {} : { port }),
              })),
              route: route4,
            },
          ],
        }
      : {}),
    exportTo: attached.exportTo,
  };
}
