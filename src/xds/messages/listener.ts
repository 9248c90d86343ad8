// Typed shapes of `envoy.config.listener.v3` (Listener, filter chains, listener filters) and the tcp_proxy network filter.
import type { CONFIG_TYPE, Typed } from '../type-urls.ts';
import type { Address, Empty, NumberValue } from './core.ts';
import type { HttpConnectionManager } from './http-connection-manager.ts';
import type { Rbac } from './http-filters.ts';
import type { TransportSocket } from './tls.ts';

/** Where tcp_proxy sends a connection: one cluster or weighted clusters (plain uint32 weights). */
export type TcpProxyDestination =
  | { cluster: string }
  | { weighted_clusters: { clusters: { name: string; weight: number }[] } };

/** `extensions.filters.network.tcp_proxy.v3.TcpProxy`. */
export type TcpProxy = { stat_prefix: string } & TcpProxyDestination;

/** `extensions.filters.network.rbac.v3.RBAC`: the HTTP filter's rules with a stat prefix. */
export type NetworkRbac = Rbac & { stat_prefix: string };

/** A network filter: the HTTP connection manager, tcp_proxy, or network RBAC before tcp_proxy. */
export type NetworkFilter = {
  name: string;
  typed_config:
    | Typed<typeof CONFIG_TYPE.httpConnectionManager, HttpConnectionManager>
    | Typed<typeof CONFIG_TYPE.tcpProxy, TcpProxy>
    | Typed<typeof CONFIG_TYPE.networkRbac, NetworkRbac>;
};

/** A listener filter: the http_inspector or tls_inspector (no settings). */
export type ListenerFilter = {
  name: string;
  typed_config:
    | Typed<typeof CONFIG_TYPE.httpInspector, Empty>
    | Typed<typeof CONFIG_TYPE.tlsInspector, Empty>;
};

/** `FilterChainMatch`. */
export type FilterChainMatch = {
  destination_port?: NumberValue;
  transport_protocol?: string;
  application_protocols?: string[];
  server_names?: string[];
};

/** `FilterChain`. */
export type FilterChain = {
  name: string;
  filter_chain_match?: FilterChainMatch;
  transport_socket?: TransportSocket;
  filters: NetworkFilter[];
};

/** A proxyless gRPC client's `ApiListener`: an HCM packed in an Any. */
export type ApiListener = {
  api_listener: Typed<typeof CONFIG_TYPE.httpConnectionManager, HttpConnectionManager>;
};

/** `Listener`: a bound port with filter chains (a sidecar or gateway), or an API listener (a gRPC client). */
export type Listener = { name: string } & (
  | {
      address: Address;
      traffic_direction?: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
      listener_filters?: ListenerFilter[];
      filter_chains: FilterChain[];
      default_filter_chain?: FilterChain;
    }
  | { api_listener: ApiListener }
);
