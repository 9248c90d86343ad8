// The transport sockets of one cluster: which UpstreamTls (or plaintext) each endpoint gets, per transport_socket_matches.
import type { SecretStore } from './secrets.ts';
import { selectUpstreamTls, type TransportSocketMatchConfig, type UpstreamTlsConfig } from './tls-config.ts';
import { sdsNames } from './tls-context.ts';
import type { TlsStats } from './tls-stats.ts';
import { UpstreamTls } from './upstream.ts';

/** What a cluster config says about upstream TLS. */
export interface ClusterTlsSettings {
  /** The cluster's `transport_socket` (absent: plaintext). */
  transportSocket?: UpstreamTlsConfig;
  /** `transport_socket_matches`, tried first, in order. */
  transportSocketMatches?: readonly TransportSocketMatchConfig[];
}

/** True when a cluster config may originate TLS. */
export function clusterUsesTls(settings: ClusterTlsSettings): boolean {
  return settings.transportSocket !== undefined || (settings.transportSocketMatches ?? []).some((m) => m.tls);
}

/** SDS names a cluster's TLS settings need that the store lacks. */
export function clusterMissingSecrets(settings: ClusterTlsSettings, secrets: SecretStore): string[] {
  const configs = [settings.transportSocket, ...(settings.transportSocketMatches ?? []).map((m) => m.tls)];
  const missing = new Set<string>();
  for (const c of configs)
    if (c) for (const name of sdsNames(c.common)) if (!secrets.has(name)) missing.add(name);
  return [...missing];
}

export class ClusterTransports {
  private readonly settings: ClusterTlsSettings;
  private readonly secrets: SecretStore;
  private readonly stats: TlsStats;
  private readonly where: string;
  /** One runtime per distinct config (shared by every endpoint that selects it). */
  private readonly runtimes = new Map<UpstreamTlsConfig, UpstreamTls>();

  constructor(settings: ClusterTlsSettings, secrets: SecretStore, stats: TlsStats, where: string) {
    this.settings = settings;
    this.secrets = secrets;
    this.stats = stats;
    this.where = where;
  }

  /** The transport of an endpoint with this `envoy.transport_socket_match` metadata; undefined: plaintext. */
  forEndpoint(metadata: Readonly<Record<string, string>> | undefined): UpstreamTls | undefined {
    const config = selectUpstreamTls(
      this.settings.transportSocketMatches ?? [],
      this.settings.transportSocket,
      metadata,
    );
    if (!config) return undefined;
    let runtime = this.runtimes.get(config);
    if (!runtime) {
      runtime = new UpstreamTls(config, this.secrets, this.stats, this.where);
      this.runtimes.set(config, runtime);
    }
    return runtime;
  }
}
