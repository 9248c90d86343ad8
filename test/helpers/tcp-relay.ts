// A TCP relay to a loopback peer (an etcd member) that can cut every connection and refuse new ones, to break a client's streams on purpose.
import net from 'node:net';

export interface TcpRelay {
  /** `http://127.0.0.1:PORT` of the relay. */
  url: string;
  /** true: destroy every relayed connection and refuse new ones; false: relay again. */
  cut(on: boolean): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

export async function startTcpRelay(target: string): Promise<TcpRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let cut = false;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((socket) => {
    if (cut) return void socket.destroy();
    const upstream = net.connect(Number(port), hostname);
    track(socket);
    track(upstream);
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    cut(on) {
      cut = on;
      if (on) for (const socket of sockets) socket.destroy();
    },
    async close() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
