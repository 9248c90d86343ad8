// Envoy's connection_limit network filter: a filter chain's cap on open connections, with its stats by stat_prefix.
import type net from 'node:net';
import { ScopedStats } from '../common/compile-scope.ts';
import { checkFields, durationMs, type Msg, num, str, unsupported, wrapped } from '../common/fields.ts';
import { ConnectionLimit } from './connection-limit.ts';

export const CONNECTION_LIMIT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit';

/** `envoy.filters.network.connection_limit`, compiled. */
export interface ConnectionLimitConfig {
  /** Names the stats (`connection_limit.<stat_prefix>.*`). */
  statPrefix: string;
  /** Its counters (shared by every filter with this prefix in the same core). */
  stats: ConnectionLimitStats;
  /** Most connections the filter chain holds open at once. */
  maxConnections: number;
  /** How long a refused connection is held (read paused) before it is closed; 0: at once. */
  delayMs: number;
}

/** Counters of one stat_prefix. */
export interface ConnectionLimitStats {
  /** limited_connections: connections closed for being over the limit. */
  limitedConnections: number;
  /** active_connections: connections the filter holds now. */
  activeConnections: number;
}

/** Stats of every connection_limit filter, by stat_prefix, per proxy core (compile scope; /stats/prometheus). */
export const CONNECTION_LIMIT_STATS = new ScopedStats<ConnectionLimitStats>(() => ({
  limitedConnections: 0,
  activeConnections: 0,
}));

export function compileConnectionLimit(tc: Msg, where: string): ConnectionLimitConfig {
  checkFields(tc, where, ['@type', 'statPrefix', 'maxConnections', 'delay']);
  const statPrefix = str(tc.statPrefix);
  if (statPrefix === '') unsupported(`${where}.stat_prefix`, 'an empty stat_prefix');
  const maxConnections = num(wrapped(tc.maxConnections));
  if (!(maxConnections >= 1)) unsupported(`${where}.max_connections`, 'a limit below 1 (or none)');
  return {
    statPrefix,
    stats: CONNECTION_LIMIT_STATS.get(statPrefix),
    maxConnections,
    delayMs: durationMs(tc.delay, 0),
  };
}

/** The live count of each compiled filter (a new config starts a new count, as in Envoy). */
const limits = new WeakMap<ConnectionLimitConfig, ConnectionLimit>();

/**
 * Runs the filter on a new connection of its chain: true when admitted (counted until it
 * closes); false when over the limit, and the connection is closed, after `delay` if set.
 */
export function admitConnection(config: ConnectionLimitConfig, socket: net.Socket): boolean {
  let limit = limits.get(config);
  if (!limit) {
    limit = new ConnectionLimit(config.maxConnections);
    limits.set(config, limit);
  }
  const stats = config.stats;
  if (limit.admit(socket)) {
    stats.activeConnections++;
    socket.once('close', () => stats.activeConnections--);
    return true;
  }
  stats.limitedConnections++;
  if (config.delayMs === 0) {
    socket.destroy();
    return false;
  }
  socket.pause();
  const timer = setTimeout(() => socket.destroy(), config.delayMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  return false;
}
