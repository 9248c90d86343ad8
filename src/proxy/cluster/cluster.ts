// A running cluster: its hosts from EDS or inline endpoints, the load balancer over them, pools, health checks.

import { ClusterTransports, clusterUsesTls } from '../tls/cluster-transports.ts';
import type { SecretStore } from '../tls/secrets.ts';
import { tlsStats } from '../tls/tls-stats.ts';
import type { ClusterConfig, EndpointSet } from './cluster-config.ts';
import { HealthChecker } from './health-check.ts';
import { Host } from './host.ts';
import { LB_TYPE_URLS, type LbContext, type LoadBalancer } from './lb/load-balancer.ts';
import { type PriorityLevel, PriorityLoadBalancer, planPriorities } from './lb/priority.ts';
import { LOAD_BALANCERS } from './lb/registry.ts';
import { OriginalDstHosts } from './original-dst.ts';
import { OutlierDetector, type UpstreamResult } from './outlier.ts';
import { H1Pool } from './pool/h1-pool.ts';
import { H2Pool } from './pool/h2-pool.ts';
import { ClusterStats } from './stats.ts';

export class Cluster {
  readonly config: ClusterConfig;
  readonly name: string;
  readonly stats: ClusterStats;
  /** Hosts by `ip:port`, kept across endpoint updates so their pools and counters survive. */
  private hosts = new Map<string, Host>();
  private lb: LoadBalancer;
  private readonly checkers: HealthChecker[] = [];
  private readonly outlier: OutlierDetector | undefined;
  /** Version of the ClusterLoadAssignment applied last ('' = inline or none). */
  endpointsVersion = '';
  /** True once endpoints arrived (STATIC: at once; EDS: first assignment). */
  hasEndpoints = false;
  /** Requests in flight (for the max_requests circuit breaker). */
  active = 0;
  /** The endpoints' overprovisioning factor (percent), for sharing load between priority levels. */
  private overprovisioningPercent = 140;
  /** ORIGINAL_DST clusters: the destinations requests named so far. */
  private readonly originalDst: OriginalDstHosts | undefined;
  /** Upstream TLS per endpoint (transport_socket and transport_socket_matches); absent: plaintext. */
  private readonly transports: ClusterTransports | undefined;

  /**
   * `passive`: a cluster that only tracks config and endpoints (a multi-core primary): no health
   * checks. `secrets`: where TLS transport sockets find their certificates.
   */
  constructor(config: ClusterConfig, stats = new ClusterStats(), passive = false, secrets?: SecretStore) {
    this.config = config;
    this.name = config.name;
    this.stats = stats;
    this.lb = this.buildLb([]);
    this.transports =
      secrets && clusterUsesTls(config)
        ? new ClusterTransports(config, secrets, tlsStats('cluster', config.name), `Cluster ${config.name}`)
        : undefined;
    if (config.type === 'ORIGINAL_DST') {
      this.originalDst = new OriginalDstHosts();
      this.hasEndpoints = true;
    }
    if (config.loadAssignment) this.setEndpoints(config.loadAssignment, '');
    if (passive) return;
    for (const hc of config.healthChecks) this.checkers.push(new HealthChecker(hc, this));
    if (config.outlierDetection) this.outlier = new OutlierDetector(config.outlierDetection, this);
  }

  /** Tells outlier detection how an attempt on `host` ended (a status, or a local-origin failure). */
  record(host: Host, result: UpstreamResult): void {
    this.outlier?.record(host, result);
  }

  /** Hosts ejected by outlier detection so far (stats). */
  get ejections(): number {
    return this.outlier?.ejectionsTotal ?? 0;
  }

  /** The host at `ip:port`, if it is one of this cluster's endpoints. */
  hostAt(key: string): Host | undefined {
    return this.hosts.get(key);
  }

  /** Applies a ClusterLoadAssignment; unchanged hosts keep their state. */
  setEndpoints(set: EndpointSet, version: string): void {
    const next = new Map<string, Host>();
    this.overprovisioningPercent = set.overprovisioningPercent;
    for (const e of set.endpoints) {
      const key = `${e.address}:${e.port}`;
      let host = this.hosts.get(key) ?? next.get(key);
      if (!host) {
        host = new Host(e.address, e.port, e.weight);
        // With active health checks a new host waits for its first check (as Envoy does).
        if (this.config.healthChecks.length > 0) host.checkHealth = 'unhealthy';
      }
      host.weight = e.weight;
      host.priority = e.priority;
      host.edsHealth = e.health;
      const transport = this.transports?.forEndpoint(e.transportMatch);
      if (host.transport !== transport) {
        // Its connections were made with the old transport socket: new ones use the new one.
        host.pool?.drain();
        host.pool = undefined;
        host.transport = transport;
      }
      next.set(key, host);
    }
    for (const [key, host] of this.hosts) {
      if (!next.has(key)) host.pool?.drain();
    }
    this.hosts = next;
    this.endpointsVersion = version;
    this.hasEndpoints = true;
    this.rebuild();
    for (const c of this.checkers) c.hostsChanged();
  }

  /** Rebuilds the load balancer after a health or membership change. */
  rebuild(): void {
    const levels = priorityLevels(this.hosts.values());
    if (levels.length <= 1) {
      const all = levels[0]?.hosts ?? [];
      const healthy = levels[0]?.healthy ?? [];
      // Panic mode: when too few hosts are healthy, balance over all of them (Envoy's healthy_panic_threshold).
      const panic = all.length > 0 && (healthy.length * 100) / all.length < this.config.panicThreshold;
      this.lb = this.buildLb(panic ? all : healthy);
      return;
    }
    const plan = planPriorities(levels, this.overprovisioningPercent, this.config.panicThreshold);
    this.lb = new PriorityLoadBalancer(
      plan.hosts.map((hosts) => this.buildLb(hosts)),
      plan.loads,
    );
  }

  private buildLb(hosts: Host[]): LoadBalancer {
    const factory = LOAD_BALANCERS.get(LB_TYPE_URLS[this.config.lbPolicy])!;
    return factory(hosts, this.config.lbSettings);
  }

  /** Picks a host for a request, or undefined when none is available. */
  pick(ctx: LbContext): Host | undefined {
    if (this.originalDst) {
      const host = this.originalDst.pick(ctx.originalDst);
      if (host && this.transports) host.transport ??= this.transports.forEndpoint(undefined);
      return host;
    }
    return this.lb.pick(ctx);
  }

  /**
   * Picks a host for one request and admits it through the `max_requests` circuit breaker.
   * A retry passes the host that failed (`avoid`): another one is preferred, as Envoy's
   * previous_hosts predicate does, up to 5 picks. Admitted requests count as active on the host
   * and the cluster until `release`; refusals are counted and named by their response flag.
   */
  admit(ctx: LbContext, avoid: Host | null): Host | 'UH' | 'UO' {
    let host = this.pick(ctx);
    for (let i = 0; avoid !== null && host === avoid && i < 5; i++) host = this.pick(ctx);
    if (!host) {
      this.stats.noneHealthy++;
      return 'UH';
    }
    if (this.active >= this.config.circuitBreakers.maxRequests) {
      this.stats.rqOverflow++;
      return 'UO';
    }
    host.active++;
    host.requests++;
    this.active++;
    this.stats.rqTotal++;
    this.stats.rqActive++;
    return host;
  }

  /** Ends a request that `admit` let through. */
  release(host: Host): void {
    host.active--;
    this.active--;
    this.stats.rqActive--;
  }

  allHosts(): Host[] {
    return this.originalDst ? this.originalDst.all() : [...this.hosts.values()];
  }

  /** The HTTP/1.1 pool of a host (created on first use). */
  h1Pool(host: Host): H1Pool {
    const current = host.pool;
    if (current instanceof H1Pool) return current;
    {
      current?.drain();
      const pool = new H1Pool(
        {
          host: host.address,
          port: host.port,
          connectTimeoutMs: this.config.connectTimeoutMs,
          idleTimeoutMs: this.config.idleTimeoutMs,
          maxRequestsPerConnection: this.config.maxRequestsPerConnection,
          maxConnections: this.config.circuitBreakers.maxConnections,
          maxPendingRequests: this.config.circuitBreakers.maxPendingRequests,
          transport: host.transport,
        },
        this.stats,
      );
      host.pool = pool;
      return pool;
    }
  }

  /** The HTTP/2 pool of a host (created on first use). */
  h2Pool(host: Host): H2Pool {
    const current = host.pool;
    if (current instanceof H2Pool) return current;
    {
      current?.drain();
      const pool = new H2Pool(
        {
          host: host.address,
          port: host.port,
          connectTimeoutMs: this.config.connectTimeoutMs,
          idleTimeoutMs: this.config.idleTimeoutMs,
          transport: host.transport,
        },
        this.stats,
      );
      host.pool = pool;
      return pool;
    }
  }

  /** Stops health checks and closes idle connections; busy ones close when their request ends. */
  drain(): void {
    for (const c of this.checkers) c.stop();
    this.outlier?.stop();
    for (const h of this.allHosts()) h.pool?.drain();
  }

  destroy(): void {
    for (const c of this.checkers) c.stop();
    this.outlier?.stop();
    for (const h of this.allHosts()) h.pool?.destroy();
  }
}

/** Hosts grouped by priority level, best first, with each level's healthy ones. */
function priorityLevels(hosts: Iterable<Host>): PriorityLevel[] {
  const byPriority = new Map<number, PriorityLevel>();
  for (const h of hosts) {
    let level = byPriority.get(h.priority);
    if (!level) {
      level = { hosts: [], healthy: [] };
      byPriority.set(h.priority, level);
    }
    level.hosts.push(h);
    if (h.healthy) level.healthy.push(h);
  }
  return [...byPriority.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}
