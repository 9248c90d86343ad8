// tcp_proxy: opaque bytes both ways between a downstream connection and an upstream host, half-close aware.
import type net from 'node:net';
import type { ProxyTelemetry } from '../../observe/proxy-telemetry.ts';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { connectTunnelUpstream } from '../cluster/tunnel-upstream.ts';
import { splice } from '../common/splice.ts';
import { admitNetworkRbac, type NetworkRbacConfig } from '../listener/network-rbac-filter.ts';
import { socketReadyEvent } from '../tls/upstream.ts';
import { Speculation } from './speculation.ts';
import type { TcpProxyConfig } from './tcp-proxy-config.ts';
import { TcpMeter } from './tcp-telemetry.ts';

/** Counters of one tcp_proxy stat prefix. */
const EMPTY: Buffer = Buffer.alloc(0);

export class TcpStats {
  cxTotal = 0;
  cxActive = 0;
  /** No cluster or no healthy host. */
  noRoute = 0;
  connectFail = 0;
}

export class TcpProxy {
  private readonly config: TcpProxyConfig;
  private readonly clusters: ClusterManager;
  readonly stats: TcpStats;
  private readonly open = new Set<net.Socket>();
  private readonly telemetry: ProxyTelemetry;
  /** The cluster of each speculative upstream connection, for its metrics. */
  private readonly speculated = new WeakMap<net.Socket, string>();
  /** The chain's network RBAC filters: a connection they deny is closed before it is proxied. */
  private readonly rbac: readonly NetworkRbacConfig[];

  constructor(
    config: TcpProxyConfig,
    clusters: ClusterManager,
    stats: TcpStats,
    telemetry: ProxyTelemetry,
    rbac: readonly NetworkRbacConfig[] = [],
  ) {
    this.config = config;
    this.clusters = clusters;
    this.stats = stats;
    this.telemetry = telemetry;
    this.rbac = rbac;
  }

  /** Proxies `socket`; `initial` holds bytes already read from it. */
  handle(socket: net.Socket, initial: Buffer): void {
    if (!admitNetworkRbac(this.rbac, socket)) return;
    this.connect(socket, initial, this.config.maxConnectAttempts, this.accept(socket));
  }

  /**
   * Connects upstream for `socket` before its client has sent anything (server-first protocols,
   * docs/design/protocol-detection.md); `spoke` is called when the server's greeting arrives.
   */
  speculate(spoke: () => void): Speculation {
    return new Speculation((handlers) => {
      const name = this.pickCluster();
      const cluster = this.clusters.get(name);
      const host = cluster?.pick({ hash: undefined });
      if (!cluster || !host) return undefined;
      const up = connectTunnelUpstream(cluster, host, handlers, { allowHalfOpen: true });
      up.pause();
      host.active++;
      up.once('close', () => host.active--);
      const timer = setTimeout(
        () => up.destroy(new Error('connect timeout')),
        cluster.config.connectTimeoutMs,
      );
      up.once('close', () => clearTimeout(timer));
      up.once(socketReadyEvent(up), () => clearTimeout(timer));
      this.speculated.set(up, name);
      return up;
    }, spoke);
  }

  /** Proxies `socket` over the speculative upstream (a fresh one if it failed); `initial`: the client's bytes. */
  adopt(socket: net.Socket, spec: Speculation, initial: Buffer): void {
    if (!admitNetworkRbac(this.rbac, socket)) {
      spec.cancel();
      return;
    }
    const meter = this.accept(socket);
    spec.take((up, greeting) => {
      if (!up) return this.connect(socket, initial, this.config.maxConnectAttempts, meter);
      if (socket.destroyed) return up.destroy();
      this.relay(socket, up, this.speculated.get(up) ?? '', meter, initial, greeting);
    });
  }

  /** Counts a downstream connection this proxy now owns. */
  private accept(socket: net.Socket): TcpMeter {
    this.stats.cxTotal++;
    this.stats.cxActive++;
    this.open.add(socket);
    socket.once('close', () => {
      this.stats.cxActive--;
      this.open.delete(socket);
    });
    socket.on('error', () => {});
    socket.pause();
    return new TcpMeter(this.telemetry, socket);
  }

  /** Joins the two connections: metrics opened, idle timeout armed, bytes already read sent first. */
  private relay(
    socket: net.Socket,
    up: net.Socket,
    cluster: string,
    meter: TcpMeter,
    toUp: Buffer,
    toDown: Buffer,
  ): void {
    meter.open(cluster);
    if (this.config.idleTimeoutMs > 0) {
      socket.setTimeout(this.config.idleTimeoutMs, () => socket.destroy());
      up.setTimeout(this.config.idleTimeoutMs, () => up.destroy());
    }
    splice(socket, up, toUp, toDown);
  }

  private pickCluster(): string {
    const cs = this.config.clusters;
    if (cs.length === 1) return cs[0].name;
    let point = Math.floor(Math.random() * this.config.totalWeight);
    for (const c of cs) {
      if (point < c.weight) return c.name;
      point -= c.weight;
    }
    return cs[cs.length - 1].name;
  }

  private connect(socket: net.Socket, initial: Buffer, attempts: number, meter: TcpMeter): void {
    const name = this.pickCluster();
    const cluster = this.clusters.get(name);
    const host = cluster?.pick({ hash: undefined });
    if (!cluster || !host) {
      this.stats.noRoute++;
      meter.open(name, 'UH');
      socket.destroy();
      return;
    }
    const up = connectTunnelUpstream(
      cluster,
      host,
      {
        failed: () => {
          clearTimeout(timer);
          this.stats.connectFail++;
          host.failures++;
          if (attempts > 1 && !socket.destroyed) this.connect(socket, initial, attempts - 1, meter);
          else {
            meter.open(name, 'UF');
            socket.destroy();
          }
        },
        ready: () => {
          clearTimeout(timer);
          if (socket.destroyed) return up.destroy();
          this.relay(socket, up, name, meter, initial, EMPTY);
        },
      },
      { allowHalfOpen: true },
    );
    // Nothing is read from the upstream before the splice takes it.
    up.pause();
    host.active++;
    up.once('close', () => host.active--);
    const timer = setTimeout(() => up.destroy(new Error('connect timeout')), cluster.config.connectTimeoutMs);
  }

  /** Closes every proxied connection (used after the drain timeout). */
  destroy(): void {
    for (const s of this.open) s.destroy();
  }

  get connections(): number {
    return this.open.size;
  }
}
