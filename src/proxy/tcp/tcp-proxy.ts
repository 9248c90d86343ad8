// tcp_proxy: opaque bytes both ways between a downstream connection and an upstream host, half-close aware.
import type net from 'node:net';
import type { ProxyTelemetry } from '../../observe/proxy-telemetry.ts';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { connectTunnelUpstream } from '../cluster/tunnel-upstream.ts';
import { ReadForwarder, splice } from '../common/splice.ts';
import type { TcpProxyConfig } from './tcp-proxy-config.ts';
import { TcpMeter } from './tcp-telemetry.ts';

/** Counters of one tcp_proxy stat prefix. */
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

  constructor(config: TcpProxyConfig, clusters: ClusterManager, stats: TcpStats, telemetry: ProxyTelemetry) {
    this.config = config;
    this.clusters = clusters;
    this.stats = stats;
    this.telemetry = telemetry;
  }

  /** Proxies `socket`; `initial` holds bytes already read from it. */
  handle(socket: net.Socket, initial: Buffer): void {
    this.stats.cxTotal++;
    this.stats.cxActive++;
    this.open.add(socket);
    socket.once('close', () => {
      this.stats.cxActive--;
      this.open.delete(socket);
    });
    socket.on('error', () => {});
    socket.pause();
    this.connect(socket, initial, this.config.maxConnectAttempts, new TcpMeter(this.telemetry, socket));
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
    // Plaintext upstreams (the app next to a server sidecar) are read into a buffer of the connection's own.
    const forwarder = host.transport ? undefined : new ReadForwarder();
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
          meter.open(name);
          if (this.config.idleTimeoutMs > 0) {
            socket.setTimeout(this.config.idleTimeoutMs, () => socket.destroy());
            up.setTimeout(this.config.idleTimeoutMs, () => up.destroy());
          }
          forwarder?.attach(up, socket);
          splice(socket, up, initial);
        },
      },
      { allowHalfOpen: true, onread: forwarder?.onread },
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
