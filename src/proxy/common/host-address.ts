// The address a sidecar registers its endpoint with: the one other hosts reach it on (or loopback on a one-host mesh).
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';

/** Hosts that mean "this machine": a control plane there makes a one-host mesh. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** `host` of `host:port` or `[v6]:port`. */
export function hostOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon > 0 ? address.slice(0, colon) : address;
}

/**
 * The address this host's traffic toward `target` (`host:port`, the xDS address, or a list of them) leaves from: the
 * kernel's source address for that route, found by connecting a UDP socket (no packet is sent).
 * A control plane on loopback means every workload runs on this host: `127.0.0.1`.
 */
export async function reachableAddress(target: string): Promise<string> {
  // Several replicas (`a:15010,b:15010`): the route to the first is the host's route to the control plane.
  const first = target.split(',')[0];
  const host = hostOf(first);
  if (isLoopback(host)) return '127.0.0.1';
  const port = Number(first.slice(first.lastIndexOf(':') + 1)) || 1;
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
