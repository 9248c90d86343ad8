// envoy.filters.network.tcp_proxy config: which cluster opaque connections go to.
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  str,
  unsupported,
  wrappedNum,
} from '../common/fields.ts';

export const TCP_PROXY_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export interface TcpProxyConfig {
  statPrefix: string;
  /** Candidate clusters with weights (one entry for `cluster`). */
  clusters: { name: string; weight: number }[];
  totalWeight: number;
  /** Close when no bytes flow either way for this long (ms; Envoy default 1 h; 0 = never). */
  idleTimeoutMs: number;
  /** Connection attempts before giving up (default 1). */
  maxConnectAttempts: number;
}

export function compileTcpProxy(c: Msg, where: string): TcpProxyConfig {
  checkFields(c, where, [
    'statPrefix',
    'cluster',
    'weightedClusters',
    'idleTimeout',
    'maxConnectAttempts',
    'accessLog',
  ]);
  if (list(c.accessLog).length > 0) unsupported(where, 'access_log');
  let clusters: { name: string; weight: number }[] = [];
  if (str(c.cluster)) clusters = [{ name: str(c.cluster), weight: 1 }];
  const wc = msg(c.weightedClusters);
  if (wc) {
    checkFields(wc, `${where}.weighted_clusters`, ['clusters']);
    clusters = list(wc.clusters).map((x, i) => {
      checkFields(x, `${where}.weighted_clusters.clusters[${i}]`, ['name', 'weight']);
      return { name: str(x.name), weight: wrappedNum(x.weight, 0) };
    });
  }
  if (clusters.length === 0) unsupported(where, 'a tcp_proxy without cluster');
  const totalWeight = clusters.reduce((s, x) => s + x.weight, 0);
  if (totalWeight <= 0) unsupported(where, 'weighted clusters with a total weight of 0');
  return {
    statPrefix: str(c.statPrefix),
    clusters,
    totalWeight,
    idleTimeoutMs: durationMs(c.idleTimeout, 3600_000),
    maxConnectAttempts: Math.max(1, wrappedNum(c.maxConnectAttempts, 1)),
  };
}
