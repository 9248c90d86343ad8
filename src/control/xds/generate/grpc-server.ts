// Listeners of proxyless gRPC servers (gRFC A36): the xDS-enabled server's own HCM, with the workload's AuthorizationPolicies as RBAC filters (gRFC A41).
import type { Listener } from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import { headerMatchForm } from './clients.ts';
import { type GenerateContext, type GeneratedResource, ROUTER_FILTER } from './common.ts';
import { grpcServerTransportSocket } from './grpc-tls.ts';
import { inboundSecurityFilters, inboundSecurityPolicies, JWT_AUTHN_FILTER_NAME } from './security.ts';

/**
 * The name an xDS-enabled gRPC server asks LDS for, from its bootstrap's
 * `server_listener_resource_name_template` (Istio's: `grpc/server?xds.resource.listening_address=%s`).
 */
export const GRPC_SERVER_LISTENER_PREFIX = 'grpc/server?xds.resource.listening_address=';

/** The `IP:port` a server listener name carries (`[::1]:50051` for IPv6), or undefined for other names. */
export function serverListeningAddress(name: string): { host: string; port: number } | undefined {
  if (!name.startsWith(GRPC_SERVER_LISTENER_PREFIX)) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(name.slice(GRPC_SERVER_LISTENER_PREFIX.length));
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2], port };
}

/**
 * A proxyless gRPC server's listener: one filter chain whose HCM routes every call to the server
 * itself (`non_forwarding_action`) after the RBAC filters of the AuthorizationPolicies that select
 * the server's workload (its node's NAMESPACE and LABELS), over mTLS when its PeerAuthentication
 * is STRICT (gRFC A29, generate/grpc-tls.ts). gRPC has no JWT filter: a RequestAuthentication on
 * the workload is left out, with a warning.
 */
export function grpcServerListener(
  ctx: GenerateContext,
  name: string,
): GeneratedResource<Listener> | undefined {
  const address = serverListeningAddress(name);
  if (!address) return undefined;
  const jwt = inboundSecurityPolicies(ctx.snapshot, ctx.proxy).requestAuthentication;
  if (jwt.length > 0)
    ctx.warn(
      `grpc-server/${ctx.proxy.id}/jwt`,
      `RequestAuthentication ${jwt[0].namespace}/${jwt[0].name} selects proxyless gRPC server ${ctx.proxy.id}, which has no JWT filter: it is not applied there`,
    );
  const filters = inboundSecurityFilters(
    ctx.snapshot,
    ctx.proxy,
    address.port,
    headerMatchForm(ctx.proxy),
  ).filter((f) => f.name !== JWT_AUTHN_FILTER_NAME);
  const transport = grpcServerTransportSocket(ctx, address.port);
  return {
    name,
    resource: {
      name,
      address: { socket_address: { address: address.host, port_value: address.port } },
      filter_chains: [
        {
          name: 'inbound',
          ...(transport ? { transport_socket: transport } : {}),
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': CONFIG_TYPE.httpConnectionManager,
                stat_prefix: 'inbound',
                route_config: {
                  name: 'inbound',
                  virtual_hosts: [
                    {
                      name: 'inbound',
                      domains: ['*'],
                      routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }],
                    },
                  ],
                },
                http_filters: [...filters, ROUTER_FILTER],
              },
            },
          ],
        },
      ],
    },
  };
}
