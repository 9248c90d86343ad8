// All clusters of a proxy by name: CDS adds/replaces/removes them, EDS feeds their endpoints.

import type { SecretStore } from '../tls/secrets.ts';
import { Cluster } from './cluster.ts';
import type { ClusterConfig, EndpointSet } from './cluster-config.ts';

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();
  /** Clusters are passive (no health checks, no traffic): used by a multi-core primary. */
  private readonly passive: boolean;

  /** TLS secrets for clusters with transport sockets. */
  private readonly secrets: SecretStore | undefined;

  constructor(passive = false, secrets?: SecretStore) {
    this.passive = passive;
    this.secrets = secrets;
  }
  /** Latest assignment per EDS service name, applied to clusters created later too. */
  private readonly assignments = new Map<string, { set: EndpointSet; version: string }>();

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  /**
   * Replaces the whole cluster set (SotW CDS). A cluster whose config is unchanged is kept as
   * it is; a changed one is rebuilt (its stats carry over) and the old one drains.
   */
  setClusters(configs: ClusterConfig[]): void {
    const next = new Map<string, Cluster>();
    for (const config of configs) {
      const old = this.clusters.get(config.name);
      if (old && JSON.stringify(old.config) === JSON.stringify(config)) {
        next.set(config.name, old);
        continue;
      }
      const cluster = new Cluster(config, old?.stats, this.passive, this.secrets);
      if (config.type === 'EDS') {
        const a = this.assignments.get(config.edsServiceName);
        if (a) cluster.setEndpoints(a.set, a.version);
      }
      next.set(config.name, cluster);
      old?.drain();
    }
    for (const [name, old] of this.clusters) if (!next.has(name)) old.drain();
    this.clusters.clear();
    for (const [name, c] of next) this.clusters.set(name, c);
  }

  /** Applies ClusterLoadAssignments (keyed by their cluster_name = EDS service name). */
  setAssignments(sets: EndpointSet[], version: string): void {
    for (const set of sets) {
      this.assignments.set(set.clusterName, { set, version });
      for (const c of this.clusters.values()) {
        if (c.config.type === 'EDS' && c.config.edsServiceName === set.clusterName)
          c.setEndpoints(set, version);
      }
    }
  }

  /** Forgets assignments that are no longer subscribed. */
  retainAssignments(names: Set<string>): void {
    for (const name of this.assignments.keys()) if (!names.has(name)) this.assignments.delete(name);
  }

  /** EDS service names the current clusters need. */
  edsNames(): string[] {
    return [...this.clusters.values()]
      .filter((c) => c.config.type === 'EDS')
      .map((c) => c.config.edsServiceName);
  }

  /** True when every EDS cluster has received its first assignment. */
  warm(): boolean {
    for (const c of this.clusters.values()) if (!c.hasEndpoints) return false;
    return true;
  }

  destroy(): void {
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
