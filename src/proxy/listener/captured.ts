// A connection redirected to the outbound listener by transparent capture: routed as the service when it was going to a VIP, else carried to where the app was going (through the mesh when that is an endpoint).
import net from 'node:net';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { connectTunnelUpstream } from '../cluster/tunnel-upstream.ts';
import type { ForwardAction, VirtualHost } from '../http/router/route-table.ts';
import { type Detected, detectAtTimeout, detectProtocol } from './detect.ts';
import type { OriginalDestination } from './original-dst.ts';

/**
 * How long a connection to a VIP of a port that may carry HTTP waits for its first bytes before it
 * is taken for a server-first protocol and carried as TCP (name the port `tcp-` to skip the wait).
 */
export const CAPTURED_DETECT_MS = 1000;

/** Pipes both ways; either side's end or error ends the other. `first` is sent ahead of the downstream's bytes. */
function join(down: net.Socket, up: net.Socket, first?: Buffer): void {
  down.on('error', () => up.destroy());
  up.on('error', () => down.destroy());
  if (first && first.length > 0) up.write(first);
  down.pipe(up);
  up.pipe(down);
  down.resume();
}

/**
 * `original` is a mesh endpoint (`ip:port` of an outbound cluster's host): the bytes go to that
 * host with the cluster's transport socket (mutual TLS with the workload's identity), counted in
 * the cluster's stats, and the called sidecar applies its policies. Anything else is passed
 * through to `original` as is (Istio's `ALLOW_ANY`).
 */
export function forwardCaptured(
  socket: net.Socket,
  original: OriginalDestination,
  clusters: ClusterManager,
): void {
  socket.pause();
  const key = `${original.address}:${original.port}`;
  for (const cluster of clusters.all()) {
    if (!cluster.name.startsWith('outbound|')) continue;
    const host = cluster.hostAt(key);
    if (!host) continue;
    // Not looked at here: the called sidecar detects HTTP and applies its HTTP policies.
    connectTunnelUpstream(
      cluster,
      host,
      { ready: (up) => join(socket, up), failed: () => socket.destroy() },
      { use: 'unknown' },
    );
    return;
  }
  const up = net.connect(original.port, original.address);
  up.once('connect', () => join(socket, up));
  up.once('error', () => socket.destroy());
}

/** A cluster of a forward action, by weight. */
function pickCluster(action: ForwardAction): string | undefined {
  if (action.clusters.length <= 1) return action.clusters[0]?.name;
  let point = Math.floor(Math.random() * action.totalWeight);
  for (const c of action.clusters) {
    if (point < c.weight) return c.name;
    point -= c.weight;
  }
  return action.clusters[action.clusters.length - 1].name;
}

/** Opaque TCP to the service of `vhost`: its CONNECT route's cluster (TCP routes of VirtualServices), an endpoint by its load balancer, over the cluster's transport socket (mTLS). */
function tunnelToService(
  socket: net.Socket,
  vhost: VirtualHost,
  clusters: ClusterManager,
  first: Buffer,
): void {
  const connect = vhost.routes.find((r) => r.match.path === 'connect');
  const name = connect?.action.kind === 'forward' ? pickCluster(connect.action) : undefined;
  const cluster = name === undefined ? undefined : clusters.get(name);
  const host = cluster?.pick({ hash: undefined });
  if (!cluster || !host) {
    if (cluster) cluster.stats.noneHealthy++;
    return void socket.destroy();
  }
  host.active++;
  const up = connectTunnelUpstream(cluster, host, {
    ready: (ready) => {
      clearTimeout(timer);
      join(socket, ready, first);
    },
    failed: () => socket.destroy(),
  });
  // The cluster's connect_timeout, as tcp_proxy applies it.
  const timer = setTimeout(() => up.destroy(new Error('connect timeout')), cluster.config.connectTimeoutMs);
  up.once('close', () => {
    clearTimeout(timer);
    host.active--;
  });
}

/**
 * A captured connection to a service VIP: HTTP (its first bytes say so) is served by the outbound
 * listener's HTTP chain, which routes it by its Host with the full route table (VirtualService
 * matches, weights, retries; the VIP is one of the service's domains); anything else, and every
 * connection to a port without HTTP routes, is opaque TCP to one of the service's endpoints.
 */
export function routeCapturedToService(
  socket: net.Socket,
  vhost: VirtualHost,
  clusters: ClusterManager,
  serveHttp: (socket: net.Socket, first: Buffer) => void,
): void {
  socket.pause();
  if (!vhost.routes.some((r) => r.match.path !== 'connect')) {
    tunnelToService(socket, vhost, clusters, Buffer.alloc(0));
    return;
  }
  let buf: Buffer = Buffer.alloc(0);
  const finish = (detected: Detected) => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
    if (detected === 'http/1.1' || detected === 'http/1.0' || detected === 'h2c') serveHttp(socket, buf);
    else tunnelToService(socket, vhost, clusters, buf);
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const d = detectProtocol(buf);
    if (d !== 'need_more') finish(d);
  };
  const onEnd = () => finish(detectAtTimeout(buf));
  const timer = setTimeout(() => finish(detectAtTimeout(buf)), CAPTURED_DETECT_MS);
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.resume();
}
