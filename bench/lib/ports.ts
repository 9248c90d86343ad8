// Free TCP ports on 127.0.0.1 for servers that need their port on the command line (nginx, HAProxy).
import { type AddressInfo, createServer } from 'node:net';

/** Ports handed out in this run, never handed out twice (the kernel may offer a just-closed one again). */
const given = new Set<number>();

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A port that was free a moment ago on 127.0.0.1 and that this run has not used yet. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe();
    if (given.has(port)) continue;
    given.add(port);
    return port;
  }
  throw new Error('no free port found on 127.0.0.1 after 50 attempts');
}
