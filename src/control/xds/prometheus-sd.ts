// Prometheus HTTP service discovery (`http_sd_configs`): every connected weft proxy's admin endpoint with its workload labels.
import { sendJson } from '../api/http.ts';
import type { ApiRoute } from '../api/server.ts';
import { peerIp } from './node.ts';
import type { AdsServer } from './server.ts';

/** One target group of Prometheus's HTTP SD format. */
export interface SdTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Path of the service discovery endpoint on the control plane's API port. */
export const PROMETHEUS_SD_PATH = '/api/v1/prometheus/targets';

/**
 * One group per proxy that declared its admin port: `host:adminPort` (the address its xDS stream
 * comes from), scraped at `/stats/prometheus`, labelled like Istio's `kubernetes-pods` job.
 */
export function prometheusTargets(server: AdsServer | undefined): SdTargetGroup[] {
  const groups: SdTargetGroup[] = [];
  for (const { proxy, peer } of server?.connectedProxies() ?? []) {
    if (proxy.kind !== 'sidecar' || proxy.adminPort === undefined) continue;
    const ip = peerIp(peer);
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const labels: Record<string, string> = {
      __metrics_path__: '/stats/prometheus',
      namespace: proxy.namespace,
      pod: proxy.id.split('~')[2] ?? proxy.id,
      workload: proxy.cluster,
      role: proxy.role,
    };
    if (proxy.labels.app) labels.app = proxy.labels.app;
    if (proxy.labels.version) labels.version = proxy.labels.version;
    groups.push({ targets: [`${host}:${proxy.adminPort}`], labels });
  }
  return groups.sort((a, b) => (a.targets[0] < b.targets[0] ? -1 : 1));
}

/** `GET /api/v1/prometheus/targets`. */
export function prometheusSdRoute(server: () => AdsServer | undefined): ApiRoute {
  return {
    path: PROMETHEUS_SD_PATH,
    methods: { GET: ({ res }) => sendJson(res, 200, prometheusTargets(server())) },
  };
}
