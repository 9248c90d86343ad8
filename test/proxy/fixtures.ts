// Envoy-shaped xDS resources (decoded, camelCase) for proxy tests, shaped like docs/xds.md's sidecar config.

import type net from 'node:net';
import { ProxyCore, type ProxyCoreConfig } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

export const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const HTTP_INSPECTOR =
  'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
export const H2_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicitHttpConfig: { http2ProtocolOptions: {} },
  },
};

type Obj = Record<string, unknown>;

/** H2_OPTIONS whose idle upstream connections close after `idleMs` (common_http_protocol_options.idle_timeout). */
export function h2OptionsWithIdle(idleMs: number): Obj {
  const options = H2_OPTIONS['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      ...options,
      commonHttpProtocolOptions: { idleTimeout: { nanos: idleMs * 1_000_000 } },
    },
  };
}

/** The outbound listener: HCM with RDS `outbound`, websocket + CONNECT upgrades. */
export function outboundListener(port: number): Obj {
  return {
    name: 'outbound',
    address: { socketAddress: { address: '127.0.0.1', portValue: port } },
    trafficDirection: 'OUTBOUND',
    filterChains: [
      {
        name: 'outbound-http',
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: `outbound_127.0.0.1_${port}`,
              codecType: 'AUTO',
              rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'outbound' },
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
              upgradeConfigs: [{ upgradeType: 'websocket' }, { upgradeType: 'CONNECT' }],
            },
          },
        ],
      },
    ],
  };
}

/** A listener on an ephemeral loopback port: one HCM with RDS `name` and the given HTTP filters (router last). */
export function filterListener(name: string, httpFilters: Obj[]): Obj {
  const hcm = {
    '@type': HCM,
    statPrefix: name,
    rds: { configSource: { ads: {} }, routeConfigName: name },
    httpFilters: [...httpFilters, { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
  };
  return {
    name,
    address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
    filterChains: [
      { filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: hcm }] },
    ],
  };
}

/** The inbound listener: http_inspector, HTTP chain to `inbound|SP||`, default chain tcp_proxy. */
export function inboundListener(port: number, servicePort: number): Obj {
  const cluster = `inbound|${servicePort}||`;
  return {
    name: 'inbound',
    address: { socketAddress: { address: '0.0.0.0', portValue: port } },
    trafficDirection: 'INBOUND',
    listenerFilters: [
      { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR } },
    ],
    filterChains: [
      {
        name: 'inbound-http',
        filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: `inbound_0.0.0.0_${port}`,
              codecType: 'AUTO',
              routeConfig: {
                name: cluster,
                validateClusters: { value: false },
                virtualHosts: [
                  {
                    name: `inbound|http|${servicePort}`,
                    domains: ['*'],
                    routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: {} } }],
                  },
                ],
              },
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
              upgradeConfigs: [{ upgradeType: 'websocket' }],
            },
          },
        ],
      },
    ],
    defaultFilterChain: {
      name: 'inbound-tcp',
      filters: [
        {
          name: 'envoy.filters.network.tcp_proxy',
          typedConfig: { '@type': TCP_PROXY, statPrefix: cluster, cluster },
        },
      ],
    },
  };
}

/** A STATIC cluster with the given endpoints. */
export function staticCluster(
  name: string,
  endpoints: { port: number; weight?: number }[],
  extra: Obj = {},
): Obj {
  return {
    name,
    type: 'STATIC',
    connectTimeout: { seconds: 1 },
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: endpoints.map((e) => ({
            endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: e.port } } },
            loadBalancingWeight: { value: e.weight ?? 1 },
          })),
        },
      ],
    },
    ...extra,
  };
}

/** A STATIC cluster as the control plane sends it (snake_case field names, as on the wire). */
export function wireStaticCluster(name: string, port: number): Obj {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1 },
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
  };
}

/** A virtual host for `host` (with `host:port` forms) whose routes are given. */
export function vhost(host: string, port: number, routes: Obj[]): Obj {
  return { name: `${host}:${port}`, domains: [host, `${host}:${port}`], routes };
}

/** Builds a ProxyCore from resources directly (no xDS stream). */
export async function coreWith(
  resources: {
    listeners: Obj[];
    clusters: Obj[];
    routes?: Obj[];
  },
  settings: ProxyCoreConfig = {},
): Promise<ProxyCore> {
  const core = new ProxyCore(settings);
  const wrap = (list: Obj[], key: string) => list.map((body) => ({ name: String(body[key]), body }));
  await core.apply(TYPE_URL.cluster, wrap(resources.clusters, 'name'), '1', true);
  await core.apply(TYPE_URL.listener, wrap(resources.listeners, 'name'), '1', true);
  if (resources.routes) await core.apply(TYPE_URL.route, wrap(resources.routes, 'name'), '1', false);
  return core;
}

/** Reads everything until the proxy closes the connection; rejects if it stays open for `limitMs`. */
export function untilClosed(socket: net.Socket, limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the proxy kept the connection open for ${limitMs} ms (got ${JSON.stringify(out)})`));
    }, limitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
