// LDS generator: the sidecar's `outbound` and `inbound` listeners, and proxyless gRPC API listeners.
import type { Listener, NetworkFilter, RouteConfiguration } from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import {
  ADS_CONFIG_SOURCE,
  duration,
  type GenerateContext,
  type GeneratedResource,
  inboundClusterName,
  isHttpProtocol,
  ROUTER_FILTER,
} from './common.ts';
import { CORS_FILTER } from './cors.ts';
import { FAULT_FILTER } from './fault.ts';
import { generateGatewayListeners } from './gateway.ts';
import { grpcServerListener } from './grpc-server.ts';
import { hcmHardening } from './hcm-hardening.ts';
import { inboundIdentityRateLimit } from './identity-ratelimit.ts';
import { OUTBOUND_ROUTE_NAME, resolveTarget } from './rds.ts';
import { inboundRateLimits } from './resilience.ts';
import {
  authorizationEnforced,
  inboundMtlsMode,
  inboundNetworkRbacFilters,
  inboundSecurityFilters,
} from './security.ts';
import { telemetryFields } from './telemetry.ts';
import { withInboundMtls } from './tls.ts';

const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';

/** The sidecar's outbound listener: an HTTP proxy on loopback routing by host via RDS `outbound`. */
export function outboundListener(ctx: GenerateContext): GeneratedResource<Listener> {
  const port = ctx.proxy.outboundPort;
  return {
    name: 'outbound',
    resource: {
      name: 'outbound',
      address: { socket_address: { address: '127.0.0.1', port_value: port } },
      traffic_direction: 'OUTBOUND',
      filter_chains: [
        {
          name: 'outbound-http',
          filters: [
            {
              name: HCM_FILTER_NAME,
              typed_config: {
                '@type': CONFIG_TYPE.httpConnectionManager,
                stat_prefix: `outbound_127.0.0.1_${port}`,
                codec_type: 'AUTO',
                ...hcmHardening(ctx.snapshot.mesh, 'outbound'),
                rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: OUTBOUND_ROUTE_NAME },
                http_filters: [CORS_FILTER, FAULT_FILTER, ROUTER_FILTER],
                upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'CONNECT' }],
                ...telemetryFields(ctx, 'CLIENT'),
              },
            },
          ],
        },
      ],
    },
  };
}

/** The inbound listener: HTTP (sniffed) to the app through `inbound|SP||`, anything else as TCP. */
export function inboundListener(ctx: GenerateContext): GeneratedResource<Listener> | undefined {
  const { proxy } = ctx;
  if (!proxy.service || proxy.appPort === undefined) {
    ctx.warn(
      `proxy-inbound/${proxy.namespace}/${proxy.cluster}`,
      `sidecar ${proxy.id} declares no ${proxy.service ? 'app port' : 'service'} (WEFT_SERVICE/WEFT_APP_PORT); it gets no inbound listener`,
    );
    return undefined;
  }
  const servicePort = proxy.service.port;
  const cluster = inboundClusterName(servicePort);
  const port = proxy.inboundPort;
  const tcpProxy: NetworkFilter = {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': CONFIG_TYPE.tcpProxy, stat_prefix: cluster, cluster },
  };
  const base = {
    name: 'inbound',
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    traffic_direction: 'INBOUND' as const,
  };
  // On an HTTP port, opaque TCP (the default chain) is refused while AuthorizationPolicies apply.
  const enforced = authorizationEnforced(ctx.snapshot, proxy, proxy.appPort, proxy.appPortName);
  // PeerAuthentication of the app port: STRICT, PERMISSIVE (both on one port) or DISABLE.
  const mtls = inboundMtlsMode(ctx.snapshot, proxy, proxy.appPort);
  if (!isHttpProtocol(proxy.service.protocol)) {
    // AuthorizationPolicies on opaque TCP: Envoy's network RBAC filters before tcp_proxy (TCP fields only).
    const rbac = inboundNetworkRbacFilters(ctx.snapshot, proxy, proxy.appPort, proxy.appPortName);
    return {
      name: 'inbound',
      resource: withInboundMtls(
        { ...base, filter_chains: [{ name: 'inbound-tcp', filters: [...rbac, tcpProxy] }] },
        mtls,
      ),
    };
  }
  const disabled = duration(0);
  const limits = inboundRateLimits(ctx, cluster);
  const clientLimits = inboundIdentityRateLimit(ctx);
  const routeConfig: RouteConfiguration = {
    name: cluster,
    validate_clusters: { value: false },
    virtual_hosts: [
      {
        name: `inbound|http|${servicePort}`,
        domains: ['*'],
        routes: [
          ...limits.routes,
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              cluster,
              timeout: disabled,
              max_stream_duration: { max_stream_duration: disabled, grpc_timeout_header_max: disabled },
            },
            ...(limits.defaultRoute ? { typed_per_filter_config: limits.defaultRoute } : {}),
          },
        ],
      },
    ],
  };
  return {
    name: 'inbound',
    resource: withInboundMtls(
      {
        ...base,
        listener_filters: [
          {
            name: 'envoy.filters.listener.http_inspector',
            typed_config: { '@type': CONFIG_TYPE.httpInspector },
          },
        ],
        filter_chains: [
          {
            name: 'inbound-http',
            filter_chain_match: { application_protocols: ['http/1.1', 'http/1.0', 'h2c'] },
            filters: [
              {
                name: HCM_FILTER_NAME,
                typed_config: {
                  '@type': CONFIG_TYPE.httpConnectionManager,
                  stat_prefix: `inbound_0.0.0.0_${port}`,
                  codec_type: 'AUTO',
                  ...hcmHardening(ctx.snapshot.mesh, 'inbound'),
                  route_config: routeConfig,
                  http_filters: [
                    ...inboundSecurityFilters(
                      ctx.snapshot,
                      proxy,
                      proxy.appPort,
                      'string_match',
                      proxy.appPortName,
                    ),
                    ...(limits.filter ? [limits.filter] : []),
                    ...(clientLimits ? [clientLimits] : []),
                    ROUTER_FILTER,
                  ],
                  upgrade_configs: [{ upgrade_type: 'websocket' }],
                  ...telemetryFields(ctx, 'SERVER'),
                },
              },
            ],
          },
        ],
        ...(enforced ? {} : { default_filter_chain: { name: 'inbound-tcp', filters: [tcpProxy] } }),
      },
      mtls,
    ),
  };
}

/**
 * A proxyless gRPC client's listener for one target: an API listener pointing at RDS of the same
 * name. The fault filter comes before the router, as for sidecars, so VirtualService faults apply
 * (gRFC A33: routes carry them in `typed_per_filter_config`).
 */
export function grpcListener(ctx: GenerateContext, name: string): GeneratedResource<Listener> | undefined {
  if (!resolveTarget(ctx, name)) return undefined;
  return {
    name,
    resource: {
      name,
      api_listener: {
        api_listener: {
          '@type': CONFIG_TYPE.httpConnectionManager,
          rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: name },
          http_filters: [FAULT_FILTER, ROUTER_FILTER],
        },
      },
    },
  };
}

/** LDS for a proxy: the sidecar's two listeners (wildcard), a gateway's listeners, or the gRPC targets it names. */
export function generateListeners(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<Listener>[] {
  if (ctx.proxy.kind === 'sidecar') {
    if (ctx.proxy.role === 'gateway') return generateGatewayListeners(ctx, names);
    const all = [outboundListener(ctx), inboundListener(ctx)].filter((l) => l !== undefined);
    return names ? all.filter((l) => names.includes(l.name)) : all;
  }
  const out: GeneratedResource<Listener>[] = [];
  for (const name of names ?? []) {
    const listener = grpcServerListener(ctx, name) ?? grpcListener(ctx, name);
    if (listener) out.push(listener);
  }
  return out;
}
