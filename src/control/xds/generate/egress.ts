// Egress for hosts that are not services: the outbound catch-all virtual host and Istio's PassthroughCluster.

import type { Cluster, DirectResponseAction, RouteAction, VirtualHost } from '../../../xds/messages/index.ts';
import { duration, type GenerateContext, type GeneratedResource } from './common.ts';

/** Istio's name of the cluster that forwards to the address a request names (ALLOW_ANY). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

const MAX_UINT32 = 4_294_967_295;
/** Istio's default connect timeout (as for every outbound cluster). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The last virtual host of the sidecar's `outbound` route configuration, for hosts no service
 * claims (Istio's `allow_any` and `block_all`). ALLOW_ANY forwards plain requests and CONNECT
 * tunnels to the host and port they name, with no timeout; REGISTRY_ONLY answers 502.
 */
export function catchAllVirtualHost(ctx: GenerateContext): VirtualHost {
  if (ctx.snapshot.mesh.outboundTrafficPolicy === 'REGISTRY_ONLY') {
    const refused: DirectResponseAction = {
      status: 502,
      body: {
        inline_string:
          'weft: this host is not in the mesh registry and the outbound traffic policy is REGISTRY_ONLY (add a ServiceEntry for it)\n',
      },
    };
    return {
      name: 'block_all',
      domains: ['*'],
      routes: [
        { name: 'block_all_connect', match: { connect_matcher: {} }, direct_response: refused },
        { name: 'block_all', match: { prefix: '/' }, direct_response: refused },
      ],
    };
  }
  const noTimeout = duration(0);
  const forward: RouteAction = {
    cluster: PASSTHROUGH_CLUSTER,
    timeout: noTimeout,
    max_stream_duration: { max_stream_duration: noTimeout, grpc_timeout_header_max: noTimeout },
  };
  return {
    name: 'allow_any',
    domains: ['*'],
    routes: [
      {
        name: 'allow_any_connect',
        match: { connect_matcher: {} },
        route: { ...forward, upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }] },
      },
      { name: 'allow_any', match: { prefix: '/' }, route: forward },
    ],
  };
}

/**
 * Istio's PassthroughCluster: an ORIGINAL_DST cluster. A weft sidecar is an explicit HTTP proxy,
 * so a request's original destination is the host and port it names (`Host`, absolute URI or
 * CONNECT target; docs/gateways.md, "Egress").
 */
export function passthroughCluster(): GeneratedResource<Cluster> {
  return {
    name: PASSTHROUGH_CLUSTER,
    resource: {
      name: PASSTHROUGH_CLUSTER,
      type: 'ORIGINAL_DST',
      lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: duration(CONNECT_TIMEOUT_MS),
      circuit_breakers: {
        thresholds: [
          {
            max_connections: { value: MAX_UINT32 },
            max_pending_requests: { value: MAX_UINT32 },
            max_requests: { value: MAX_UINT32 },
            max_retries: { value: MAX_UINT32 },
          },
        ],
      },
    },
  };
}
