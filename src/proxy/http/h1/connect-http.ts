// HTTP inside CONNECT: whether a tunnel may carry routable HTTP, and sniffing its first bytes (Envoy re-runs the HCM).
import type net from 'node:net';
import { type Detected, detectProtocol } from '../../listener/detect.ts';
import { findVirtualHost } from '../router/route-match.ts';
import type { RouteTable } from '../router/route-table.ts';

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

/**
 * Reads the tunnel's first bytes (starting with `initial`) until they show HTTP/1.x, something
 * else, the end, or the timeout; then pauses the socket and calls `done` with every byte read.
 */
export function sniffTunnel(
  socket: net.Socket,
  initial: Buffer,
  done: (content: TunnelContent, bytes: Buffer) => void,
): void {
  let buf = initial;
  let finished = false;
  const finish = (detected: Detected) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.pause();
    done(detected === 'http/1.1' || detected === 'http/1.0' ? 'http' : 'opaque', buf);
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const d = detectProtocol(buf);
    if (d !== 'need_more') finish(d);
  };
  const onEnd = () => finish('raw');
  // Until someone owns the socket again, an error just ends it ('close' follows).
  const onError = () => socket.destroy();
  socket.on('error', onError);
  const timer = setTimeout(() => finish('raw'), TUNNEL_SNIFF_TIMEOUT_MS);
  timer.unref();
  const first = buf.length > 0 ? detectProtocol(buf) : 'need_more';
  if (first !== 'need_more') {
    finish(first);
    return;
  }
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.resume();
}
