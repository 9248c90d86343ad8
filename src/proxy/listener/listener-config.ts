// Listener resources compiled: address, listener filters, filter chains with their match and terminal filter.
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  num,
  str,
  unsupported,
  wrappedBool,
} from '../common/fields.ts';
import { compileHcm, HCM_TYPE_URL, type HcmConfig } from '../http/connection-manager-config.ts';
import { compileTcpProxy, TCP_PROXY_TYPE_URL, type TcpProxyConfig } from '../tcp/tcp-proxy-config.ts';
import { compileDownstreamTransportSocket, type DownstreamTlsConfig } from '../tls/tls-config.ts';
import {
  CONNECTION_LIMIT_TYPE_URL,
  type ConnectionLimitConfig,
  compileConnectionLimit,
} from './connection-limit-filter.ts';
import { compileNetworkRbac, NETWORK_RBAC_TYPE_URL, type NetworkRbacConfig } from './network-rbac-filter.ts';

export const HTTP_INSPECTOR_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
export const TLS_INSPECTOR_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';

/** filter_chain_match, compiled (empty lists match everything). */
export interface ChainMatch {
  destinationPort?: number;
  /** SNI names (lower case), exact or `*.suffix`; empty matches any (and no) SNI. */
  serverNames: string[];
  transportProtocol?: string;
  applicationProtocols: string[];
}

export interface FilterChainConfig {
  name: string;
  match: ChainMatch;
  /** The terminal network filter. */
  terminal: { kind: 'http'; hcm: HcmConfig } | { kind: 'tcp'; tcp: TcpProxyConfig };
  /** TLS termination (`transport_socket` with a DownstreamTlsContext); absent: plaintext. */
  tls?: DownstreamTlsConfig;
  /** `envoy.filters.network.connection_limit` before the terminal filter; absent: no limit. */
  connectionLimit?: ConnectionLimitConfig;
  /** `envoy.filters.network.rbac` filters before a tcp_proxy, in order; empty: none. */
  networkRbac: NetworkRbacConfig[];
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  httpInspector: boolean;
  tlsInspector: boolean;
  /** `traffic_direction`: INBOUND listeners report Istio's metrics as the destination. */
  inbound: boolean;
  /** How long listener filters wait for the first bytes (ms; Envoy default 15 s; 0 = no limit). */
  listenerFiltersTimeoutMs: number;
  /** On that timeout, go on with what is known (true) or close (false). */
  continueOnTimeout: boolean;
  filterChains: FilterChainConfig[];
  defaultChain?: FilterChainConfig;
  /** A hash of the resource as received, to tell a changed listener from a re-sent one; absent: always changed. */
  fingerprint?: string;
}

const LISTENER_FIELDS = [
  'name',
  'address',
  'filterChains',
  'defaultFilterChain',
  'listenerFilters',
  'listenerFiltersTimeout',
  'continueOnListenerFiltersTimeout',
  'trafficDirection',
  'statPrefix',
  'drainType',
  'perConnectionBufferLimitBytes',
  'bindToPort',
  'enableReusePort',
  'metadata',
];

export function compileListener(l: Msg): ListenerConfig {
  const name = str(l.name);
  const where = `Listener ${name}`;
  checkFields(l, where, LISTENER_FIELDS);
  const sa = msg(msg(l.address)?.socketAddress);
  if (!sa) return unsupported(`${where}.address`, 'an address other than socket_address');
  checkFields(sa, `${where}.address.socket_address`, ['address', 'portValue', 'protocol', 'ipv4Compat']);
  if (l.bindToPort !== undefined && l.bindToPort !== null && !wrappedBool(l.bindToPort, true))
    unsupported(where, 'bind_to_port false');
  let httpInspector = false;
  let tlsInspector = false;
  for (const [i, f] of list(l.listenerFilters).entries()) {
    const fw = `${where}.listener_filters[${i}]`;
    checkFields(f, fw, ['name', 'typedConfig', 'filterDisabled']);
    const type = str(msg(f.typedConfig)?.['@type']);
    if (type === HTTP_INSPECTOR_TYPE_URL || str(f.name) === 'envoy.filters.listener.http_inspector')
      httpInspector = true;
    else if (type === TLS_INSPECTOR_TYPE_URL || str(f.name) === 'envoy.filters.listener.tls_inspector')
      tlsInspector = true;
    else unsupported(fw, `listener filter '${str(f.name)}'`);
  }
  const port = num(sa.portValue);
  const chains = list(l.filterChains).map((c, i) => compileChain(c, `${where}.filter_chains[${i}]`, port));
  const dfc = msg(l.defaultFilterChain);
  return {
    name,
    address: str(sa.address) || '0.0.0.0',
    port,
    httpInspector,
    tlsInspector,
    inbound: str(l.trafficDirection) === 'INBOUND',
    listenerFiltersTimeoutMs: durationMs(l.listenerFiltersTimeout, 15000),
    continueOnTimeout: l.continueOnListenerFiltersTimeout === true,
    filterChains: chains,
    defaultChain: dfc ? compileChain(dfc, `${where}.default_filter_chain`, port) : undefined,
  };
}

function compileChain(c: Msg, where: string, port: number): FilterChainConfig {
  checkFields(c, where, ['name', 'filterChainMatch', 'filters', 'metadata', 'transportSocket']);
  const tls = compileDownstreamTransportSocket(msg(c.transportSocket), `${where}.transport_socket`);
  const m = msg(c.filterChainMatch) ?? {};
  checkFields(m, `${where}.filter_chain_match`, [
    'destinationPort',
    'serverNames',
    'transportProtocol',
    'applicationProtocols',
  ]);
  const filters = list(c.filters);
  const { limit, rbac } = compileLeadingFilters(filters, `${where}.filters`);
  const at = filters.length - 1;
  const f = filters[at];
  const fw = `${where}.filters[${at}]`;
  checkFields(f, fw, ['name', 'typedConfig']);
  const tc = msg(f.typedConfig) ?? {};
  const type = str(tc['@type']);
  let terminal: FilterChainConfig['terminal'];
  if (type === HCM_TYPE_URL) terminal = { kind: 'http', hcm: compileHcm(tc, `${fw}.typed_config`, port) };
  else if (type === TCP_PROXY_TYPE_URL)
    terminal = { kind: 'tcp', tcp: compileTcpProxy(tc, `${fw}.typed_config`) };
  else return unsupported(fw, `network filter '${str(f.name)}' (${type})`);
  if (rbac.length > 0 && terminal.kind !== 'tcp')
    unsupported(
      `${where}.filters`,
      'a network rbac filter before an HTTP connection manager (use the HTTP rbac filter)',
    );
  const dp = msg(m.destinationPort);
  return {
    name: str(c.name),
    match: {
      destinationPort: dp ? num(dp.value) : undefined,
      serverNames: Array.isArray(m.serverNames)
        ? (m.serverNames as string[]).map((n) => n.toLowerCase())
        : [],
      transportProtocol: str(m.transportProtocol) || undefined,
      applicationProtocols: Array.isArray(m.applicationProtocols) ? (m.applicationProtocols as string[]) : [],
    },
    terminal,
    ...(tls ? { tls } : {}),
    ...(limit ? { connectionLimit: limit } : {}),
    networkRbac: rbac,
  };
}

/** The filters before the terminal one: an optional connection_limit, then network rbac filters; nothing else. */
function compileLeadingFilters(
  filters: Msg[],
  where: string,
): { limit?: ConnectionLimitConfig; rbac: NetworkRbacConfig[] } {
  let limit: ConnectionLimitConfig | undefined;
  const rbac: NetworkRbacConfig[] = [];
  if (filters.length === 0) unsupported(where, 'a filter chain without network filters');
  for (let i = 0; i < filters.length - 1; i++) {
    const f = filters[i];
    const fw = `${where}[${i}]`;
    const tc = msg(f.typedConfig) ?? {};
    const type = str(tc['@type']);
    checkFields(f, fw, ['name', 'typedConfig']);
    if (type === CONNECTION_LIMIT_TYPE_URL && i === 0)
      limit = compileConnectionLimit(tc, `${fw}.typed_config`);
    else if (type === NETWORK_RBAC_TYPE_URL) rbac.push(compileNetworkRbac(tc, `${fw}.typed_config`));
    else
      unsupported(
        fw,
        `network filter '${str(f.name)}' before the terminal one (supported: connection_limit first, then rbac)`,
      );
  }
  return { limit, rbac };
}

/**
 * How specifically `names` (server_names) match `sni`: exact beats any wildcard, a longer
 * `*.suffix` beats a shorter; 0 = no match. Scaled to outrank transport and application matches.
 */
function serverNameScore(names: readonly string[], sni: string | undefined): number {
  if (sni === undefined) return 0;
  let best = 0;
  for (const name of names) {
    if (name === sni) return 1 << 11;
    if (name.startsWith('*.') && sni.endsWith(name.slice(1)) && sni.length > name.length - 1)
      best = Math.max(best, 8 * name.length);
  }
  return best;
}

/**
 * Envoy's filter-chain selection for what weft inspects: destination port, server name (SNI),
 * transport protocol, application protocol; the most specific match wins, else the default chain.
 * A TLS client's ALPN list (`alpn`) is tried in its order, as Envoy does: the first protocol a
 * chain names picks that chain; with none, a chain that names no application protocol.
 */
export function selectChain(
  l: ListenerConfig,
  localPort: number,
  transport: string,
  appProtocol: string | undefined,
  sni?: string,
  alpn?: readonly string[],
): FilterChainConfig | undefined {
  if (alpn && appProtocol === undefined)
    for (const protocol of alpn) {
      const chain = bestChain(l, localPort, transport, protocol, sni);
      if (chain && chain.match.applicationProtocols.length > 0) return chain;
    }
  return bestChain(l, localPort, transport, appProtocol, sni) ?? l.defaultChain;
}

function bestChain(
  l: ListenerConfig,
  localPort: number,
  transport: string,
  appProtocol: string | undefined,
  sni: string | undefined,
): FilterChainConfig | undefined {
  let best: FilterChainConfig | undefined;
  let bestScore = -1;
  for (const c of l.filterChains) {
    const m = c.match;
    let score = 0;
    if (m.destinationPort !== undefined) {
      if (m.destinationPort !== localPort) continue;
      score += 1 << 12;
    }
    if (m.serverNames.length > 0) {
      const names = serverNameScore(m.serverNames, sni);
      if (names === 0) continue;
      score += names;
    }
    if (m.transportProtocol !== undefined) {
      if (m.transportProtocol !== transport) continue;
      score += 2;
    }
    if (m.applicationProtocols.length > 0) {
      if (appProtocol === undefined || !m.applicationProtocols.includes(appProtocol)) continue;
      score += 1;
    }
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}
