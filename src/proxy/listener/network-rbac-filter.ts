// envoy.filters.network.rbac: allows or closes each connection of a filter chain by Envoy RBAC rules (enforced, LOG, shadow).
import type net from 'node:net';
import { ScopedStats } from '../common/compile-scope.ts';
import { checkFields, type Msg, msg, str, unsupported } from '../common/fields.ts';
import { compileRbacEngine, type RbacEngine } from '../http/filters/rbac/rbac-engine.ts';
import { RbacInput } from '../http/filters/rbac/rbac-input.ts';
import { RequestHead } from '../http/request-head.ts';
import { tlsConnectionFacts } from '../tls/connection-facts.ts';

export const NETWORK_RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

/** Counters of one network RBAC stat prefix (Envoy's `<stat_prefix>rbac.*`). */
export interface NetworkRbacStats {
  allowed: number;
  denied: number;
  shadowAllowed: number;
  shadowDenied: number;
  logged: number;
  notLogged: number;
}

/** Counters by `<stat_prefix>rbac.` (shadow ones by `<stat_prefix>rbac.<shadow_rules_stat_prefix>`), per proxy core. */
export const NETWORK_RBAC_STATS = new ScopedStats<NetworkRbacStats>(() => ({
  allowed: 0,
  denied: 0,
  shadowAllowed: 0,
  shadowDenied: 0,
  logged: 0,
  notLogged: 0,
}));

/** `envoy.filters.network.rbac`, compiled. */
export interface NetworkRbacConfig {
  rules?: RbacEngine;
  shadowRules?: RbacEngine;
  stats: NetworkRbacStats;
  shadowStats: NetworkRbacStats;
}

export function compileNetworkRbac(tc: Msg, where: string): NetworkRbacConfig {
  checkFields(tc, where, [
    '@type',
    'statPrefix',
    'rules',
    'shadowRules',
    'shadowRulesStatPrefix',
    'enforcementType',
  ]);
  const statPrefix = str(tc.statPrefix);
  if (statPrefix === '') unsupported(`${where}.stat_prefix`, 'an empty stat_prefix');
  // weft decides when the connection is handed to the filter chain (after the TLS handshake), not per byte.
  const enforcement = str(tc.enforcementType) || 'ONE_TIME_ON_FIRST_BYTE';
  if (enforcement !== 'ONE_TIME_ON_FIRST_BYTE') unsupported(`${where}.enforcement_type`, enforcement);
  const rules = msg(tc.rules);
  const shadow = msg(tc.shadowRules);
  const base = `${statPrefix}rbac.`;
  return {
    rules: rules ? compileRbacEngine(rules, `${where}.rules`) : undefined,
    shadowRules: shadow ? compileRbacEngine(shadow, `${where}.shadow_rules`) : undefined,
    stats: NETWORK_RBAC_STATS.get(base),
    shadowStats: NETWORK_RBAC_STATS.get(`${base}${str(tc.shadowRulesStatPrefix)}`),
  };
}

/** A connection has no request: header and path matchers see an empty head (they never match, as in Envoy). */
const NO_HEAD = new RequestHead();

function inputOf(socket: net.Socket): RbacInput {
  const facts = tlsConnectionFacts(socket);
  return new RbacInput(
    NO_HEAD,
    {
      peerPrincipal: facts.peerPrincipal,
      sni: facts.sni,
      sourceIp: socket.remoteAddress ?? '',
      destinationIp: socket.localAddress,
      destinationPort: socket.localPort ?? 0,
    },
    undefined,
  );
}

/** One filter's decision: counts it; false when the enforced rules deny. */
function admitOne(f: NetworkRbacConfig, input: RbacInput): boolean {
  if (f.shadowRules) {
    if (f.shadowRules.decide(input).outcome === 'allowed') f.shadowStats.shadowAllowed++;
    else f.shadowStats.shadowDenied++;
  }
  if (!f.rules) return true;
  const decision = f.rules.decide(input);
  if (f.rules.action === 'LOG') {
    if (decision.policy !== undefined) f.stats.logged++;
    else f.stats.notLogged++;
    return true;
  }
  if (decision.outcome === 'allowed') {
    f.stats.allowed++;
    return true;
  }
  f.stats.denied++;
  return false;
}

/** Runs a chain's RBAC filters in order on a new connection: true when admitted, else the connection is closed. */
export function admitNetworkRbac(filters: readonly NetworkRbacConfig[], socket: net.Socket): boolean {
  if (filters.length === 0) return true;
  const input = inputOf(socket);
  for (const f of filters) {
    if (admitOne(f, input)) continue;
    socket.destroy();
    return false;
  }
  return true;
}
