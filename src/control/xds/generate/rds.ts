// RDS generator: the sidecar's `outbound` RouteConfiguration and proxyless gRPC per-target route configurations.
import { isIP } from 'node:net';
import type { Service, ServicePort } from '../../../model/types.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../../xds/messages/index.ts';
import {
  type GenerateContext,
  type GeneratedResource,
  isHttpProtocol,
  resolveService,
  serviceVisible,
  visibleServices,
} from './common.ts';
import { catchAllVirtualHost } from './egress.ts';
import { generateGatewayRoutes } from './gateway.ts';
import { buildRoutes, connectRoute } from './routes.ts';

/** Name of the sidecar's outbound route configuration (RDS of the `outbound` listener). */
export const OUTBOUND_ROUTE_NAME = 'outbound';

/** The port that port-less host names (`Host: reviews`) reach: 80 if HTTP-ish, else the first HTTP-ish port. */
export function defaultHttpPort(service: Service): ServicePort | undefined {
  const http = service.ports.filter((p) => isHttpProtocol(p.protocol));
  return http.find((p) => p.number === 80) ?? http[0];
}

/** The names a host is known by for a proxy in `namespace` (Kubernetes-style short names where they apply). */
export function hostAliases(service: Service, namespace: string, domainSuffix: string): string[] {
  const { name, namespace: ns, hostname } = service;
  if (hostname !== `${name}.${ns}.svc.${domainSuffix}`) return [hostname];
  const aliases = [hostname, `${name}.${ns}.svc`, `${name}.${ns}`];
  if (ns === namespace) aliases.push(name);
  return aliases;
}

/** The `domains` of a service port's virtual host (the rule is written in docs/xds.md). */
export function virtualHostDomains(
  service: Service,
  port: ServicePort,
  namespace: string,
  suffix: string,
  vips: readonly string[] = [],
): string[] {
  // A VIP is one more name of the service, as in Istio (an IPv6 one in brackets, as in a Host header).
  const aliases = [
    ...hostAliases(service, namespace, suffix),
    ...vips.map((v) => (isIP(v) === 6 ? `[${v}]` : v)),
  ];
  const domains: string[] = [];
  const portless = isHttpProtocol(port.protocol) && defaultHttpPort(service) === port;
  for (const alias of aliases) {
    if (portless) domains.push(alias);
    domains.push(`${alias}:${port.number}`);
  }
  return domains;
}

/** The sidecar's `outbound` route configuration: one virtual host per (service, port). */
export function sidecarOutboundRoutes(ctx: GenerateContext): GeneratedResource<RouteConfiguration> {
  const { snapshot, proxy } = ctx;
  const used = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  for (const service of visibleServices(ctx)) {
    for (const port of service.ports) {
      const vips = snapshot.vips?.get(service.hostname);
      const domains = virtualHostDomains(
        service,
        port,
        proxy.namespace,
        snapshot.mesh.domainSuffix,
        vips,
      ).filter((d) => {
        if (!used.has(d)) {
          used.add(d);
          return true;
        }
        ctx.warn(
          `domain/${proxy.namespace}/${d}`,
          `host name ${d} is claimed by more than one service; ${service.hostname}:${port.number} does not get it`,
        );
        return false;
      });
      if (domains.length === 0) continue;
      const routes: Route[] = [connectRoute(ctx, service, port)];
      if (isHttpProtocol(port.protocol)) routes.push(...buildRoutes(ctx, service, port, 'sidecar'));
      virtualHosts.push({ name: `${service.hostname}:${port.number}`, domains, routes });
    }
  }
  for (const vs of snapshot.virtualServices) {
    for (const host of vs.hosts) {
      if (!host.includes('*') && !snapshot.services.has(host)) {
        ctx.warn(
          `VirtualService/${vs.namespace}/${vs.name}/unknown-host/${host}`,
          `VirtualService ${vs.namespace}/${vs.name}: host ${host} is not a known service (add a ServiceEntry); its routes are not generated`,
        );
      }
    }
  }
  // Hosts that are no service: passed through (ALLOW_ANY) or refused (REGISTRY_ONLY).
  virtualHosts.push(catchAllVirtualHost(ctx));
  return {
    name: OUTBOUND_ROUTE_NAME,
    resource: { name: OUTBOUND_ROUTE_NAME, validate_clusters: { value: false }, virtual_hosts: virtualHosts },
  };
}

/** Splits a gRPC target `HOST:PORT`; undefined when there is no numeric port. */
export function splitTarget(name: string): { host: string; port: number } | undefined {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(name.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: name.slice(0, colon), port };
}

/** The service port a gRPC target names (full or short form), if it exists and is exported to the client. */
export function resolveTarget(
  ctx: GenerateContext,
  name: string,
): { service: Service; port: ServicePort } | undefined {
  const target = splitTarget(name);
  if (!target) return undefined;
  const service = resolveService(ctx.snapshot, target.host, ctx.proxy.namespace);
  const port = service?.ports.find((p) => p.number === target.port);
  // A service not exported to the client's namespace is unknown to it, as for sidecars.
  return service && port && serviceVisible(ctx, service) ? { service, port } : undefined;
}

/** The route configuration of one proxyless gRPC target (`HOST:PORT` as the client asked); undefined if unknown. */
export function grpcRouteConfiguration(
  ctx: GenerateContext,
  name: string,
): GeneratedResource<RouteConfiguration> | undefined {
  const found = resolveTarget(ctx, name);
  if (!found) return undefined;
  const { service, port } = found;
  const domains = [...new Set([name, `${service.hostname}:${port.number}`, service.hostname])];
  return {
    name,
    resource: {
      name,
      virtual_hosts: [{ name, domains, routes: buildRoutes(ctx, service, port, 'grpc') }],
    },
  };
}

/** RDS for a proxy: sidecars get `outbound`, gateways theirs; gRPC clients one configuration per requested target. */
export function generateRoutes(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<RouteConfiguration>[] {
  if (ctx.proxy.kind === 'sidecar' && ctx.proxy.role === 'gateway') return generateGatewayRoutes(ctx, names);
  if (ctx.proxy.kind === 'sidecar') {
    if (names && !names.includes(OUTBOUND_ROUTE_NAME)) return [];
    return [sidecarOutboundRoutes(ctx)];
  }
  const out: GeneratedResource<RouteConfiguration>[] = [];
  for (const name of names ?? []) {
    const config = grpcRouteConfiguration(ctx, name);
    if (config) out.push(config);
  }
  return out;
}
