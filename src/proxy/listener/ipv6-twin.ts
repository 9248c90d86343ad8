// IPv6 twins of the IPv4 inbound and outbound servers under transparent capture: ip6tables redirects to IPv6 addresses of the same ports.
import net from 'node:net';

/**
 * Binds `host` (`::` IPv6 only, or `::1`) on `server`'s port and hands each connection to
 * `server`, so the listener that adopts `server` serves both families. Resolves undefined when the
 * namespace has no IPv6 (nothing can be redirected there then).
 */
export function bindIpv6Twin(server: net.Server, host: '::' | '::1'): Promise<net.Server | undefined> {
  const port = (server.address() as net.AddressInfo).port;
  return new Promise((resolve, reject) => {
    const twin = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
    twin.on('connection', (socket) => server.emit('connection', socket));
    twin.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') resolve(undefined);
      else reject(new Error(`cannot listen on [${host}]:${port}: ${err.message}`));
    });
    twin.listen({ host, port, ipv6Only: true, backlog: 4096 }, () => {
      twin.removeAllListeners('error');
      twin.on('error', () => {});
      // The twin lives as long as the server it feeds.
      server.once('close', () => twin.close());
      resolve(twin);
    });
  });
}
