// Free TCP ports for a unit: chosen outside the kernel's ephemeral range, held until all are chosen, then released.
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Below this the ports are too often a known service's; the search runs from here up to the ephemeral range. */
const LOWEST = 10_000;

/**
 * Returns `count` distinct ports that are free on every interface right now. They come from below the
 * kernel's ephemeral range (`net.ipv4.ip_local_port_range`), which the kernel hands out as the local
 * port of outgoing connections and to `listen(0)`: a port chosen from inside it can be taken by any
 * connection the host opens between this choice and the moment the sidecar or app binds it. Each is
 * bound until all are chosen, so none repeats; another process may still bind one first, which then
 * fails with a clear "in use" error. Falls back to the kernel's choice when no port below the range is free.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ceiling = ephemeralLow();
  try {
    for (let tries = 0; servers.length < count; tries++) {
      const port =
        tries < 50 * count && ceiling > LOWEST ? LOWEST + Math.floor(Math.random() * (ceiling - LOWEST)) : 0;
      const server = await bind(port);
      if (server) servers.push(server);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** A server bound to `port` (0: the kernel's choice) on the wildcard address, or undefined when it is taken. */
function bind(port: number): Promise<net.Server | undefined> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (port !== 0 && (err.code === 'EADDRINUSE' || err.code === 'EACCES')) resolve(undefined);
      else reject(err);
    });
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => resolve(server));
  });
}

/** The first port of the kernel's ephemeral range (Linux's default 32768 where it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
