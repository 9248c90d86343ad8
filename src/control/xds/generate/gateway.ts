// Gateway proxies (`weft gateway`): listeners per served port and route configurations, from Gateways and the VirtualServices bound to them.

import { gatewayKey, gatewaysForProxy } from '../../../model/gateways.ts';
import { hostMatches } from '../../../model/hostnames.ts';
import { exportedTo } from '../../../model/lookup.ts';
import type {
  GatewayModel,
  GatewayServer,
  HttpMatch,
  Protocol,
  RouteDestination,
  VirtualServiceModel,
} from '../../../model/types.ts';
import type {
  CertificateValidationContext,
  CommonTlsContext,
  FilterChain,
  Listener,
  ListenerFilter,
  NetworkFilter,
  RedirectAction,
  Route,
  RouteConfiguration,
  TcpProxyDestination,
  TlsParameters,
  TlsVersion,
  TransportSocket,
  VirtualHost,
} from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { GatewayPort } from '../node.ts';
import {
  ADS_CONFIG_SOURCE,
  compareStrings,
  type GenerateContext,
  type GeneratedResource,
  labelsMatch,
  outboundClusterName,
  ROUTER_FILTER,
} from './common.ts';
import { CORS_FILTER } from './cors.ts';
import { FAULT_FILTER } from './fault.ts';
import { hcmHardening } from './hcm-hardening.ts';
import { virtualServiceRoutes } from './routes.ts';
import { telemetryFields } from './telemetry.ts';

const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
const TLS_SOCKET = 'envoy.transport_sockets.tls';
const TLS_INSPECTOR: ListenerFilter = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: { '@type': CONFIG_TYPE.tlsInspector },
};

/** A server of a Gateway that selects this proxy, with its Gateway. */
interface BoundServer {
  gateway: GatewayModel;
  server: GatewayServer;
  /** Position among the Gateway's servers (names route configurations uniquely). */
  index: number;
}

/** Server protocols carried as HTTP. */
function isHttpServer(protocol: Protocol): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC';
}

/** What a gateway proxy serves: its servers grouped by service port, with the local port of each. */
interface GatewayPlan {
  ports: { port: GatewayPort; servers: BoundServer[] }[];
}

function plan(ctx: GenerateContext): GatewayPlan {
  const { proxy, snapshot } = ctx;
  const gateways = gatewaysForProxy(snapshot.gateways ?? [], proxy.labels, proxy.namespace);
  const declared = proxy.gatewayPorts ?? [];
  const byPort = new Map<number, BoundServer[]>();
  for (const gateway of gateways)
    gateway.servers.forEach((server, index) => {
      const list = byPort.get(server.port.number) ?? [];
      list.push({ gateway, server, index });
      byPort.set(server.port.number, list);
    });
  const ports: GatewayPlan['ports'] = [];
  for (const [number, servers] of [...byPort].sort(([a], [b]) => a - b)) {
    const port = declared.find((p) => p.port === number);
    if (port === undefined) {
      const names = [...new Set(servers.map((s) => gatewayKey(s.gateway)))].join(', ');
      ctx.warn(
        `gateway-port/${proxy.id}/${number}`,
        `Gateway ${names} has a server on port ${number}, but gateway ${proxy.cluster}.${proxy.namespace} does not serve it (weft gateway --port ${number} or --port ${number}=LOCAL_PORT)`,
      );
      continue;
    }
    ports.push({ port, servers });
  }
  return { ports };
}

/** The VirtualServices bound to `gateway`, oldest first, that it may see. */
function boundVirtualServices(ctx: GenerateContext, gateway: GatewayModel): VirtualServiceModel[] {
  const key = gatewayKey(gateway);
  return (ctx.snapshot.gatewayVirtualServices ?? []).filter(
    (vs) =>
      vs.gateways.includes(key) && exportedTo(ctx.snapshot.mesh, 'virtualService', vs, gateway.namespace),
  );
}

/** The hosts where a VirtualService host and a server host overlap (the more specific of the two). */
function overlap(vs: VirtualServiceModel, server: GatewayServer): string[] {
  const out = new Set<string>();
  for (const serverHost of server.hosts) {
    if (serverHost.namespace !== '*' && serverHost.namespace !== vs.namespace) continue;
    for (const host of vs.hosts) {
      if (hostMatches(serverHost.host, host)) out.add(host);
      else if (hostMatches(host, serverHost.host)) out.add(serverHost.host);
    }
  }
  return [...out];
}

/** Route configuration name of a plain HTTP port (Istio's `http.<port>`). */
function httpRouteName(port: number): string {
  return `http.${port}`;
}

/** Route configuration name of an HTTPS server (Istio's `https.<port>.<port name>.<gateway>.<namespace>`). */
function httpsRouteName(bound: BoundServer): string {
  const { gateway, server, index } = bound;
  return `https.${server.port.number}.${server.port.name}.${gateway.name}.${gateway.namespace}.${index}`;
}

/** Whether a VirtualService match entry applies on this gateway and server port. */
function gatewayMatchApplies(match: HttpMatch, ctx: GenerateContext, gateway: string, port: number): boolean {
  if (match.port !== undefined && match.port !== port) return false;
  if (match.gateways && !match.gateways.includes(gateway)) return false;
  if (match.sourceLabels && !labelsMatch(match.sourceLabels, ctx.proxy.labels)) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== ctx.proxy.namespace) return false;
  return true;
}

/** Warns about destinations without a port on services with several ports (Istio requires one there). */
function checkDestinationPorts(
  ctx: GenerateContext,
  vs: VirtualServiceModel,
  dests: readonly RouteDestination[],
): void {
  for (const d of dests) {
    const target = ctx.snapshot.services.get(d.host);
    if (d.port === undefined && target !== undefined && target.ports.length > 1)
      ctx.warn(
        `VirtualService/${vs.namespace}/${vs.name}/gateway-port/${d.host}`,
        `VirtualService ${vs.namespace}/${vs.name}: ${d.host} has several ports; a route from a gateway must name destination.port`,
      );
  }
}

/**
 * The local port of the HTTPS server that covers `host` on the same Gateway, for redirects
 * (`httpsRedirect`): weft gateways often listen on unprivileged ports, so the redirect names it.
 */
function httpsPortFor(plan: GatewayPlan, gateway: GatewayModel, host: string): number | undefined {
  for (const { port, servers } of plan.ports)
    for (const { gateway: g, server } of servers)
      if (
        g === gateway &&
        server.port.protocol === 'HTTPS' &&
        server.hosts.some((h) => hostMatches(h.host, host) || hostMatches(host, h.host))
      )
        return port.listenPort;
  return undefined;
}

/** The virtual hosts of one route configuration: every bound VirtualService's hosts on these servers. */
function virtualHosts(
  ctx: GenerateContext,
  gatewayPlan: GatewayPlan,
  servers: readonly BoundServer[],
  port: number,
): VirtualHost[] {
  // domain → (VirtualService, gateway) in order; and the domains that redirect to https.
  const domains = new Map<string, { vs: VirtualServiceModel; gateway: string }[]>();
  const redirects = new Map<string, number | undefined>();
  for (const { gateway, server } of servers) {
    if (server.httpsRedirect)
      for (const h of server.hosts) redirects.set(h.host, httpsPortFor(gatewayPlan, gateway, h.host));
    for (const vs of boundVirtualServices(ctx, gateway)) {
      if (vs.http.length === 0) continue;
      for (const host of overlap(vs, server)) {
        const list = domains.get(host) ?? [];
        if (!list.some((e) => e.vs === vs)) list.push({ vs, gateway: gatewayKey(gateway) });
        domains.set(host, list);
        if (server.httpsRedirect) redirects.set(host, httpsPortFor(gatewayPlan, gateway, host));
      }
    }
  }
  const out: VirtualHost[] = [];
  const all = new Set([...domains.keys(), ...redirects.keys()]);
  for (const domain of [...all].sort(compareStrings)) {
    const name = `${domain}:${port}`;
    if (redirects.has(domain)) {
      const listenPort = redirects.get(domain);
      const redirect: RedirectAction = { https_redirect: true };
      if (listenPort !== undefined && listenPort !== 443) redirect.port_redirect = listenPort;
      out.push({
        name,
        domains: [domain],
        routes: [{ name: 'https-redirect', match: { prefix: '/' }, redirect }],
      });
      continue;
    }
    const routes: Route[] = [];
    for (const { vs, gateway } of domains.get(domain) ?? []) {
      for (const rule of vs.http) if (rule.route) checkDestinationPorts(ctx, vs, rule.route);
      const built = virtualServiceRoutes(ctx, [vs], { hostname: '' }, { number: port }, 'sidecar', (m) =>
        gatewayMatchApplies(m, ctx, gateway, port),
      );
      routes.push(...built);
      const last = built[built.length - 1]?.match;
      if (last && Object.keys(last).length === 1 && 'prefix' in last && last.prefix === '/') break;
    }
    if (routes.length > 0) out.push({ name, domains: [domain], routes });
  }
  return out;
}

function hcm(ctx: GenerateContext, statPrefix: string, routeName: string): NetworkFilter {
  return {
    name: HCM_FILTER_NAME,
    typed_config: {
      '@type': CONFIG_TYPE.httpConnectionManager,
      stat_prefix: statPrefix,
      codec_type: 'AUTO',
      ...hcmHardening(ctx.snapshot.mesh, 'gateway'),
      rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: routeName },
      // As Istio: the fault filter before the router, so VirtualService faults apply at gateways too.
      http_filters: [CORS_FILTER, FAULT_FILTER, ROUTER_FILTER],
      // Clients name the gateway by host and its local port; virtual hosts list hosts only.
      strip_any_host_port: true,
      use_remote_address: { value: true },
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      ...telemetryFields(ctx, 'SERVER'),
    },
  };
}

/** The DownstreamTlsContext of a terminating server (certificate files on the gateway's host). */
function downstreamTls(server: GatewayServer): TransportSocket {
  const tls = server.tls!;
  const common: CommonTlsContext = {
    tls_certificates: [
      {
        certificate_chain: { filename: tls.serverCertificate },
        private_key: { filename: tls.privateKey },
      },
    ],
    alpn_protocols: server.port.protocol === 'HTTPS' ? ['h2', 'http/1.1'] : [],
  };
  const params: TlsParameters = {};
  // Istio writes TLSV1_2, Envoy's enum TLSv1_2.
  const envoyVersion = (v: string) => v.replace('TLSV', 'TLSv') as TlsVersion;
  if (tls.minProtocolVersion) params.tls_minimum_protocol_version = envoyVersion(tls.minProtocolVersion);
  if (tls.maxProtocolVersion) params.tls_maximum_protocol_version = envoyVersion(tls.maxProtocolVersion);
  if (Object.keys(params).length > 0) common.tls_params = params;
  if (tls.mode === 'MUTUAL') {
    const validation: CertificateValidationContext = { trusted_ca: { filename: tls.caCertificates } };
    // Istio's subjectAltNames match any SAN type (DNS names, SPIFFE URIs): Envoy's untyped matcher.
    if (tls.subjectAltNames.length > 0)
      validation.match_subject_alt_names = tls.subjectAltNames.map((san) => ({ exact: san }));
    common.validation_context = validation;
  }
  return {
    name: TLS_SOCKET,
    typed_config: {
      '@type': CONFIG_TYPE.downstreamTlsContext,
      common_tls_context: common,
      ...(tls.mode === 'MUTUAL' ? { require_client_certificate: { value: true } } : {}),
    },
  };
}

/** SNI names of a server for filter_chain_match (none when it serves any host). */
function serverNames(hosts: readonly string[]): string[] {
  return hosts.includes('*') ? [] : [...new Set(hosts)].sort(compareStrings);
}

/** The cluster (or weighted clusters) of an L4 route's destinations. */
function tcpDestinations(
  ctx: GenerateContext,
  dests: readonly RouteDestination[],
  port: number,
): TcpProxyDestination {
  const live = dests.filter((d) => d.weight > 0 || dests.length === 1);
  const cluster = (d: RouteDestination) => {
    const target = ctx.snapshot.services.get(d.host);
    const destPort = d.port ?? (target?.ports.length === 1 ? target.ports[0].number : port);
    return outboundClusterName(destPort, d.subset, d.host);
  };
  if (live.length === 1) return { cluster: cluster(live[0]) };
  return { weighted_clusters: { clusters: live.map((d) => ({ name: cluster(d), weight: d.weight })) } };
}

function tcpProxy(statPrefix: string, destinations: TcpProxyDestination): NetworkFilter {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': CONFIG_TYPE.tcpProxy, stat_prefix: statPrefix, ...destinations },
  };
}

/** PASSTHROUGH servers: one chain per VirtualService `tls[]` rule, matched by SNI, proxied as TCP. */
function passthroughChains(ctx: GenerateContext, bound: BoundServer): FilterChain[] {
  const { gateway, server } = bound;
  const key = gatewayKey(gateway);
  const chains: FilterChain[] = [];
  for (const vs of boundVirtualServices(ctx, gateway)) {
    for (const [i, rule] of (vs.tls ?? []).entries()) {
      const names = new Set<string>();
      for (const m of rule.matches) {
        if (m.port !== undefined && m.port !== server.port.number) continue;
        if (m.gateways && !m.gateways.includes(key)) continue;
        for (const sni of m.sniHosts)
          for (const h of server.hosts) {
            if (h.namespace !== '*' && h.namespace !== vs.namespace) continue;
            if (hostMatches(h.host, sni)) names.add(sni);
            else if (hostMatches(sni, h.host)) names.add(h.host);
          }
      }
      if (names.size === 0) continue;
      const sni = serverNames([...names]);
      chains.push({
        name: `tls.${server.port.number}.${vs.namespace}.${vs.name}.${i}`,
        filter_chain_match: { transport_protocol: 'tls', ...(sni.length > 0 ? { server_names: sni } : {}) },
        filters: [
          tcpProxy(`tls.${server.port.number}`, tcpDestinations(ctx, rule.route, server.port.number)),
        ],
      });
    }
  }
  return chains;
}

/** TCP servers: the first VirtualService `tcp[]` rule bound here proxies every connection. */
function tcpChain(ctx: GenerateContext, bound: BoundServer): FilterChain | undefined {
  const { gateway, server } = bound;
  const key = gatewayKey(gateway);
  for (const vs of boundVirtualServices(ctx, gateway)) {
    if (overlap(vs, server).length === 0) continue;
    const rule = vs.tcp.find(
      (r) =>
        r.matches.length === 0 ||
        r.matches.some(
          (m) =>
            (m.port === undefined || m.port === server.port.number) &&
            (!m.gateways || m.gateways.includes(key)),
        ),
    );
    if (rule)
      return {
        name: `tcp.${server.port.number}`,
        filters: [
          tcpProxy(`tcp.${server.port.number}`, tcpDestinations(ctx, rule.route, server.port.number)),
        ],
      };
  }
  return undefined;
}

/** The listener of one served port, or undefined when nothing is bound to it. */
function gatewayListener(
  ctx: GenerateContext,
  port: GatewayPort,
  servers: readonly BoundServer[],
): GeneratedResource<Listener> | undefined {
  const name = `0.0.0.0_${port.listenPort}`;
  const chains: FilterChain[] = [];
  let tls = false;
  const plainHttp = servers.filter((s) => isHttpServer(s.server.port.protocol));
  if (plainHttp.length > 0)
    chains.push({
      name: `http.${port.port}`,
      filters: [hcm(ctx, `outbound_0.0.0.0_${port.listenPort}`, httpRouteName(port.port))],
    });
  const snis = new Map<string, string>();
  for (const bound of servers) {
    const { server } = bound;
    if (server.port.protocol === 'HTTPS' && server.tls?.mode !== 'PASSTHROUGH') {
      tls = true;
      const names = serverNames(server.hosts.map((h) => h.host));
      const key = names.join(',');
      const first = snis.get(key);
      if (first !== undefined) {
        ctx.warn(
          `gateway-sni/${ctx.proxy.id}/${port.port}/${key}`,
          `two HTTPS servers on port ${port.port} (${first} and ${gatewayKey(bound.gateway)}) serve the same hosts (${key || '*'}); the first wins`,
        );
        continue;
      }
      snis.set(key, gatewayKey(bound.gateway));
      chains.push({
        name: httpsRouteName(bound),
        filter_chain_match: {
          transport_protocol: 'tls',
          ...(names.length > 0 ? { server_names: names } : {}),
        },
        transport_socket: downstreamTls(server),
        filters: [hcm(ctx, `outbound_0.0.0.0_${port.listenPort}`, httpsRouteName(bound))],
      });
    } else if (server.tls?.mode === 'PASSTHROUGH') {
      tls = true;
      chains.push(...passthroughChains(ctx, bound));
    } else if (server.port.protocol === 'TCP') {
      const chain = tcpChain(ctx, bound);
      if (chain) chains.push(chain);
    } else if (server.port.protocol === 'TLS') {
      ctx.warn(
        `gateway-tls-terminate/${gatewayKey(bound.gateway)}/${port.port}`,
        `Gateway ${gatewayKey(bound.gateway)}: TLS servers that terminate (mode ${server.tls?.mode}) and proxy TCP are not generated yet; port ${port.port} serves its other servers only`,
      );
    }
  }
  if (chains.length === 0) return undefined;
  return {
    name,
    resource: {
      name,
      address: { socket_address: { address: '0.0.0.0', port_value: port.listenPort } },
      traffic_direction: 'OUTBOUND',
      ...(tls ? { listener_filters: [TLS_INSPECTOR] } : {}),
      filter_chains: chains,
    },
  };
}

/** LDS for a gateway proxy: one listener per port a selecting Gateway serves and the proxy was given. */
export function generateGatewayListeners(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<Listener>[] {
  const out: GeneratedResource<Listener>[] = [];
  for (const { port, servers } of plan(ctx).ports) {
    const listener = gatewayListener(ctx, port, servers);
    if (listener && (!names || names.includes(listener.name))) out.push(listener);
  }
  return out;
}

/** RDS for a gateway proxy: `http.<port>` per plain HTTP port, one configuration per HTTPS server. */
export function generateGatewayRoutes(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<RouteConfiguration>[] {
  const gatewayPlan = plan(ctx);
  const out: GeneratedResource<RouteConfiguration>[] = [];
  const add = (name: string, servers: readonly BoundServer[], port: number) => {
    if (names && !names.includes(name)) return;
    out.push({
      name,
      resource: {
        name,
        validate_clusters: { value: false },
        virtual_hosts: virtualHosts(ctx, gatewayPlan, servers, port),
      },
    });
  };
  for (const { port, servers } of gatewayPlan.ports) {
    const plain = servers.filter((s) => isHttpServer(s.server.port.protocol));
    if (plain.length > 0) add(httpRouteName(port.port), plain, port.port);
    for (const bound of servers)
      if (bound.server.port.protocol === 'HTTPS' && bound.server.tls?.mode !== 'PASSTHROUGH')
        add(httpsRouteName(bound), [bound], port.port);
  }
  return out;
}

/** What a gateway's listeners and routes depend on besides the snapshot: its labels, namespace and ports. */
export function gatewayCacheKey(ctx: { proxy: GenerateContext['proxy'] }): string {
  const { proxy } = ctx;
  return JSON.stringify([
    proxy.namespace,
    Object.entries(proxy.labels).sort(([a], [b]) => compareStrings(a, b)),
    proxy.gatewayPorts ?? [],
  ]);
}
