// The data-plane process core: applies xDS resources to listeners, routes and clusters, drains on shutdown.
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { UnsupportedFieldError } from '../errors.ts';
import { type LocalWorkload, ProxyTelemetry } from '../observe/proxy-telemetry.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { decodeXdsResource } from '../xds/wire/ads.ts';
import {
  type ClusterConfig,
  compileCluster,
  compileLoadAssignment,
  type EndpointSet,
} from './cluster/cluster-config.ts';
import { ClusterManager } from './cluster/cluster-manager.ts';
import { compileIn } from './common/compile-scope.ts';
import { compileShared, sharedCopy } from './common/shared-compile.ts';
import type { MeshDnsStats } from './dns/mesh-dns.ts';
import { HttpStatsRegistry } from './http/http-stats.ts';
import { compileRouteTable, hasPerFilterConfig, type RouteTable } from './http/router/route-table.ts';
import { compileListener, type ListenerConfig } from './listener/listener-config.ts';
import { ListenerManager } from './listener/listener-manager.ts';
import { originalDestination } from './listener/original-dst.ts';
import { OverloadManager } from './overload/overload-manager.ts';
import { TcpStats } from './tcp/tcp-proxy.ts';
import { SecretStore } from './tls/secrets.ts';
import { requireSecrets } from './tls/tls-context.ts';
import type { XdsHandler, XdsResource } from './xds-client/ads-client.ts';
import { camelize } from './xds-client/camelize.ts';

/**
 * A resource as last accepted, for /config_dump. One that came over the wire is kept encoded (a
 * decoded body is several times larger on the heap, for each of a node agent's workloads) and
 * decoded again when asked for.
 */
export class AcceptedResource {
  readonly name: string;
  readonly version: string;
  private readonly typeUrl: string;
  private readonly kept: Uint8Array | Record<string, unknown>;

  constructor(typeUrl: string, resource: XdsResource, version: string) {
    this.name = resource.name;
    this.version = version;
    this.typeUrl = typeUrl;
    this.kept = resource.encoded ? sharedCopy(resource.encoded) : resource.body;
  }

  /** Decoded body (camelCase). */
  get body(): Record<string, unknown> {
    if (!(this.kept instanceof Uint8Array)) return this.kept;
    return camelize(decodeXdsResource(this.typeUrl, this.kept)) as Record<string, unknown>;
  }
}

/** Limits on what one serving process holds (`--max-connections`, `--max-heap-mb`). */
export interface ProxyLimits {
  /** Most connections open at once on each listener; default: no limit. */
  maxConnections?: number;
  /** Heap size the overload manager measures pressure against; default: no overload manager. */
  maxHeapBytes?: number;
}

/** Settings of the proxy core (the CLI fills them from flags). */
export interface ProxyCoreConfig extends ProxyLimits {
  /** Servers bound before configuration arrives, adopted by the LDS listener on the same port. */
  prebound?: Map<number, net.Server>;
  /**
   * Validate and track configuration only: bind no listener, carry no traffic, run no health
   * check (the primary of a multi-core proxy, whose workers do the serving).
   */
  configOnly?: boolean;
  /** Bind listeners with SO_REUSEPORT (a worker of a multi-core proxy). */
  reusePort?: boolean;
  /** TLS secrets by SDS name (the workload identity's `default` and `ROOTCA`); default: none. */
  secrets?: SecretStore;
  /** The workload this proxy serves, for Istio's metric labels; default: unknown. */
  workload?: LocalWorkload;
  /** Transparent capture: outbound listeners forward redirected connections to their original destination. */
  capture?: boolean;
}

/** A hash of a resource as received (its bytes, or its decoded body when it did not come over the wire). */
function fingerprintOf(r: XdsResource): string {
  return createHash('sha256')
    .update(r.encoded ?? JSON.stringify(r.body))
    .digest('base64');
}

/** A compiled resource that is data only, whatever it holds. */
const always = () => true;

export class ProxyCore implements XdsHandler {
  readonly clusters: ClusterManager;
  /** TLS secrets by SDS name, for transport sockets. */
  readonly secrets: SecretStore;
  private readonly configOnly: boolean;
  /** Listener configs in use (also kept in config-only mode, where nothing is bound). */
  private listenerConfigs: ListenerConfig[] = [];
  readonly httpStats = new HttpStatsRegistry();
  readonly tcpStats = new Map<string, TcpStats>();
  /** Istio's standard metrics and the labels of this proxy's workload. */
  readonly telemetry: ProxyTelemetry;
  readonly listeners: ListenerManager;
  /** Sheds load when the heap is nearly full (`--max-heap-mb`); absent when not asked for. */
  readonly overload?: OverloadManager;
  private readonly routes = new Map<string, RouteTable>();
  /** Mesh DNS counters, when this proxy serves mesh DNS (`--dns-port`). */
  dnsStats?: MeshDnsStats;
  /** Accepted resources per type URL, by name. */
  readonly accepted = new Map<string, Map<string, AcceptedResource>>();
  private listenerNames: string[] = [];
  private gotListeners = false;
  private gotClusters = false;
  /** Once true, stays true (Envoy's initialization is done once). */
  private wasReady = false;

  /** The current RouteConfiguration named `name` (RDS), compiled. */
  routeTable(name: string): RouteTable | undefined {
    return this.routes.get(name);
  }

  constructor(config: ProxyCoreConfig = {}) {
    this.configOnly = config.configOnly === true;
    this.secrets = config.secrets ?? new SecretStore();
    this.clusters = new ClusterManager(this.configOnly, this.secrets);
    this.telemetry = new ProxyTelemetry(config.workload);
    if (config.maxHeapBytes !== undefined && !this.configOnly) {
      this.overload = new OverloadManager({ maxHeapBytes: config.maxHeapBytes });
      this.overload.start();
    }
    this.listeners = new ListenerManager(
      {
        clusters: this.clusters,
        route: (name) => this.routes.get(name),
        httpStats: this.httpStats,
        tcpStats: (prefix) => {
          let s = this.tcpStats.get(prefix);
          if (!s) {
            s = new TcpStats();
            this.tcpStats.set(prefix, s);
          }
          return s;
        },
        secrets: this.secrets,
        statsScope: this,
        telemetry: this.telemetry,
        maxConnections: config.maxConnections,
        overload: this.overload,
        ...(config.capture
          ? {
              originalDestination: (s: net.Socket) =>
                originalDestination(s.remoteAddress ?? '', s.remotePort ?? 0),
            }
          : {}),
      },
      config.prebound,
      config.reusePort === true,
    );
    for (const t of Object.values(TYPE_URL)) this.accepted.set(t, new Map());
  }

  async apply(typeUrl: string, resources: XdsResource[], version: string, complete: boolean): Promise<void> {
    switch (typeUrl) {
      case TYPE_URL.listener:
        return this.applyListeners(resources, version);
      case TYPE_URL.route:
        return this.applyRoutes(resources, version);
      case TYPE_URL.cluster:
        return this.applyClusters(resources, version);
      case TYPE_URL.endpoint:
        return this.applyEndpoints(resources, version);
      default:
        if (complete || resources.length > 0)
          throw new UnsupportedFieldError(`resource type ${typeUrl} is not supported by weft proxy`);
    }
  }

  /** Compiles every listener first (any failure rejects the whole update), then binds/swaps. */
  async applyListeners(resources: XdsResource[], version: string): Promise<void> {
    const configs: ListenerConfig[] = compileIn(this, () =>
      resources.map((r) => ({ ...compileListener(r.body), fingerprint: fingerprintOf(r) })),
    );
    for (const l of configs) {
      const chains = l.defaultChain ? [...l.filterChains, l.defaultChain] : l.filterChains;
      requireSecrets(
        this.secrets,
        `Listener ${l.name}`,
        chains.map((c) => c.tls?.common),
      );
    }
    if (!this.configOnly) await this.listeners.apply(configs);
    this.listenerConfigs = configs;
    this.listenerNames = configs.map((c) => c.name);
    this.remember(TYPE_URL.listener, resources, version, true);
    this.gotListeners = true;
  }

  applyRoutes(resources: XdsResource[], version: string): void {
    // A node agent's workloads mostly get the same route tables: compiled once, shared while they hold no filter state.
    const tables = compileIn(this, () =>
      resources.map((r) =>
        compileShared(
          TYPE_URL.route,
          r.encoded,
          () => compileRouteTable(r.body),
          (t) => !hasPerFilterConfig(t),
        ),
      ),
    );
    for (const t of tables) this.routes.set(t.name, t);
    this.remember(TYPE_URL.route, resources, version, false);
  }

  applyClusters(resources: XdsResource[], version: string): void {
    // Compiled clusters are data (the Cluster built from one holds its state): shared across workloads.
    const configs: ClusterConfig[] = resources.map((r) =>
      compileShared(TYPE_URL.cluster, r.encoded, () => compileCluster(r.body), always),
    );
    for (const c of configs)
      requireSecrets(this.secrets, `Cluster ${c.name}`, [
        c.transportSocket?.common,
        ...(c.transportSocketMatches ?? []).map((m) => m.tls?.common),
      ]);
    // Clusters are built here (their TLS counters belong to this core).
    compileIn(this, () => this.clusters.setClusters(configs));
    this.remember(TYPE_URL.cluster, resources, version, true);
    const eds = new Set(this.clusters.edsNames());
    this.clusters.retainAssignments(eds);
    const known = this.accepted.get(TYPE_URL.endpoint)!;
    for (const name of known.keys()) if (!eds.has(name)) known.delete(name);
    this.gotClusters = true;
  }

  applyEndpoints(resources: XdsResource[], version: string): void {
    const sets: EndpointSet[] = resources.map((r) =>
      compileShared(TYPE_URL.endpoint, r.encoded, () => compileLoadAssignment(r.body), always),
    );
    this.clusters.setAssignments(sets, version);
    this.remember(TYPE_URL.endpoint, resources, version, false);
  }

  private remember(typeUrl: string, resources: XdsResource[], version: string, complete: boolean): void {
    const map = this.accepted.get(typeUrl)!;
    if (complete) map.clear();
    for (const r of resources) map.set(r.name, new AcceptedResource(typeUrl, r, version));
  }

  routeNames(): string[] {
    const names: string[] = [];
    for (const config of this.listenerConfigs) {
      const chains = config.defaultChain
        ? [...config.filterChains, config.defaultChain]
        : config.filterChains;
      for (const c of chains)
        if (c.terminal.kind === 'http' && c.terminal.hcm.rdsName) names.push(c.terminal.hcm.rdsName);
    }
    return names;
  }

  endpointNames(): string[] {
    return this.clusters.edsNames();
  }

  /** Envoy's readiness: listeners and clusters received, and every RDS/EDS they need has arrived. */
  ready(): boolean {
    if (this.wasReady) return true;
    if (!this.gotListeners || !this.gotClusters) return false;
    for (const name of this.routeNames()) if (!this.routes.has(name)) return false;
    if (!this.clusters.warm()) return false;
    this.wasReady = true;
    return true;
  }

  /** Names of the listeners in use. */
  get listenerList(): string[] {
    return this.listenerNames;
  }

  /** Stops accepting; in-flight requests continue. */
  drain(): void {
    this.listeners.drain();
  }

  /** Open downstream connections (for drain progress). */
  get connections(): number {
    return this.listeners.connections;
  }

  destroy(): void {
    this.overload?.stop();
    this.listeners.destroy();
    this.clusters.destroy();
    this.telemetry.close();
  }
}
