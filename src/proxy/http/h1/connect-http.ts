// HTTP inside CONNECT: whether a tunnel may carry routable HTTP, and sniffing its first bytes (Envoy re-runs the HCM).
import type net from 'node:net';
import type { Cluster } from '../../cluster/cluster.ts';
import { connectTunnelUpstream } from '../../cluster/tunnel-upstream.ts';
import { type Detected, detectProtocol } from '../../listener/detect.ts';
import { QUIET_MS, Speculation } from '../../tcp/speculation.ts';
import { findVirtualHost } from '../router/route-match.ts';
import type { RouteTable } from '../router/route-table.ts';
import type { RouteDecision } from '../router/router.ts';

/** How long a tunnel's first bytes are waited for before it is treated as opaque. */
export const TUNNEL_SNIFF_TIMEOUT_MS = 5_000;

/**
 * Whether `CONNECT authority` names a virtual host with HTTP routes besides CONNECT (a service's
 * HTTP port); opaque (TCP) ports have only the CONNECT route, and their tunnels stay opaque.
 */
export function tunnelMayCarryHttp(table: RouteTable | undefined, authority: string): boolean {
  if (!table) return false;
  const vhost = findVirtualHost(table, authority);
  return vhost?.routes.some((r) => r.match.path !== 'connect') ?? false;
}

/** What the tunnel's first bytes are. */
export type TunnelContent = 'http' | 'opaque';

/** Opens a tunnel's upstream on speculation; `spoke`: the server sent its greeting first. */
export type Speculate = (spoke: () => void) => Speculation;

/** The speculative upstream of a CONNECT tunnel to `cluster`. */
export function tunnelSpeculation(cluster: Cluster, decision: RouteDecision): Speculate {
  return (spoke) =>
    new Speculation((handlers) => {
      const host = cluster.pick(decision);
      return host ? connectTunnelUpstream(cluster, host, handlers) : undefined;
    }, spoke);
}

/**
 * Reads the tunnel's first bytes (starting with `initial`) until they show HTTP/1.x, something
 * else, the end, or the timeout; then pauses the socket and calls `done` with every byte read.
 * When the client stays quiet, `speculate` opens the upstream at once: a server that speaks first
 * (SMTP, a database) makes the tunnel opaque, and `done` gets that upstream with its greeting.
 */
export function sniffTunnel(
  socket: net.Socket,
  initial: Buffer,
  done: (content: TunnelContent, bytes: Buffer, spec: Speculation | undefined) => void,
  speculate?: Speculate,
): void {
  let buf = initial;
  let finished = false;
  let spec: Speculation | undefined;
  let quiet: NodeJS.Timeout | undefined;
  const finish = (detected: Detected) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(quiet);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.pause();
    done(detected === 'http/1.1' || detected === 'http/1.0' ? 'http' : 'opaque', buf, spec);
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const d = detectProtocol(buf);
    if (d !== 'need_more') finish(d);
  };
  const onEnd = () => finish('raw');
  // Until someone owns the socket again, an error just ends it ('close' follows).
  const onError = () => {
    spec?.cancel();
    socket.destroy();
  };
  socket.on('error', onError);
  const timer = setTimeout(() => finish('raw'), TUNNEL_SNIFF_TIMEOUT_MS);
  timer.unref();
  const first = buf.length > 0 ? detectProtocol(buf) : 'need_more';
  if (first !== 'need_more') {
    finish(first);
    return;
  }
  if (speculate && buf.length === 0)
    quiet = setTimeout(() => {
      if (buf.length === 0 && !finished) spec = speculate(() => finish('raw'));
    }, QUIET_MS);
  socket.once('close', () => {
    clearTimeout(quiet);
    if (!finished) spec?.cancel();
  });
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.resume();
}
