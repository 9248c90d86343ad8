// The upstream connection of a tunnel (HTTP CONNECT, tcp_proxy), counted in its cluster's connection stats.
import type net from 'node:net';
import { connectUpstream, socketReadyEvent } from '../tls/upstream.ts';
import type { Cluster } from './cluster.ts';
import type { Host } from './host.ts';

/** What the caller does once the connection is up, or could not be made. */
export interface TunnelUpstreamHandlers {
  /** Connected (and, over TLS, handshaken); `upstream_cx_connect_fail` was not counted. */
  ready(up: net.Socket): void;
  /** The connection failed before it was ready; `upstream_cx_connect_fail` is already counted. */
  failed(err: Error): void;
}

/**
 * Connects to `host` with its transport socket and counts the connection in `cluster`'s stats
 * (`upstream_cx_total`, `upstream_cx_active` until it closes, `upstream_cx_connect_fail`).
 */
export function connectTunnelUpstream(
  cluster: Cluster,
  host: Host,
  handlers: TunnelUpstreamHandlers,
  options?: Parameters<typeof connectUpstream>[3],
): net.Socket {
  const up = connectUpstream(host.transport, host.address, host.port, options);
  cluster.stats.cxTotal++;
  cluster.stats.cxActive++;
  up.once('close', () => cluster.stats.cxActive--);
  const onFail = (err: Error) => {
    cluster.stats.cxConnectFail++;
    handlers.failed(err);
  };
  up.once('error', onFail);
  up.once(socketReadyEvent(up), () => {
    up.removeListener('error', onFail);
    handlers.ready(up);
  });
  return up;
}
