// A connection redirected to the outbound listener by transparent capture: carried to where the app was going, through the mesh when that is an endpoint.
import net from 'node:net';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { connectTunnelUpstream } from '../cluster/tunnel-upstream.ts';
import type { OriginalDestination } from './original-dst.ts';

/** Pipes both ways; either side's end or error ends the other. */
function join(down: net.Socket, up: net.Socket): void {
  down.on('error', () => up.destroy());
  up.on('error', () => down.destroy());
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
