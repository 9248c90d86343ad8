// Free TCP ports for a unit: asks the kernel for distinct ports, then releases them for the processes that bind them.
import net from 'node:net';

/**
 * Returns `count` distinct ports that are free on every interface right now. Each is bound
 * (port 0 on the wildcard address) until all are chosen, so none repeats; a process may still
 * take one before the sidecar or app binds it, which then fails with a clear "in use" error.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: 0, host: '0.0.0.0', exclusive: true }, resolve);
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
