// All listeners of the proxy: LDS adds, updates and removes them; pre-bound ports are adopted by port.
import net from 'node:net';
import { PortInUseError } from '../../errors.ts';
import { Listener, type ListenerDeps } from './listener.ts';
import type { ListenerConfig } from './listener-config.ts';

/**
 * Binds a TCP server (half-open sockets allowed, as tcp_proxy needs). With `reusePort` several
 * processes bind the same port and the kernel spreads connections over them (SO_REUSEPORT).
 */
export function bindServer(host: string, port: number, reusePort = false): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
    server.once('error', (err) =>
      reject(new PortInUseError(`cannot listen on ${host}:${port}: ${err.message}`, err)),
    );
    server.listen({ host, port, backlog: 4096, reusePort }, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      resolve(server);
    });
  });
}

export class ListenerManager {
  private readonly deps: ListenerDeps;
  private readonly listeners = new Map<string, Listener>();
  /** Servers bound at start (by port) that an LDS listener on that port takes over. */
  private readonly prebound: Map<number, net.Server>;

  /** Bind with SO_REUSEPORT (the workers of a multi-core proxy share every port). */
  private readonly reusePort: boolean;

  constructor(deps: ListenerDeps, prebound: Map<number, net.Server> = new Map(), reusePort = false) {
    this.deps = deps;
    this.prebound = prebound;
    this.reusePort = reusePort;
  }

  /** Applies the full listener set (SotW LDS). Rejects (→ NACK) when a port cannot be bound. */
  async apply(configs: ListenerConfig[]): Promise<void> {
    const names = new Set(configs.map((c) => c.name));
    for (const config of configs) {
      const existing = this.listeners.get(config.name);
      if (existing && existing.config.port === config.port && existing.config.address === config.address) {
        existing.setConfig(config);
        continue;
      }
      let server = this.prebound.get(config.port);
      if (server) {
        this.prebound.delete(config.port);
        // A gateway's pre-bound port refuses connections (maxConnections 0) until adopted here.
        server.maxConnections = Number.POSITIVE_INFINITY;
      } else server = await bindServer(config.address, config.port, this.reusePort);
      const listener = new Listener(server, this.deps);
      listener.setConfig(config);
      this.listeners.set(config.name, listener);
      existing?.drain();
    }
    for (const [name, l] of this.listeners) {
      if (!names.has(name)) {
        l.drain();
        this.listeners.delete(name);
      }
    }
  }

  get(name: string): Listener | undefined {
    return this.listeners.get(name);
  }

  all(): Listener[] {
    return [...this.listeners.values()];
  }

  /** Stops accepting everywhere and lets connection managers finish their requests. */
  drain(): void {
    for (const l of this.listeners.values()) l.drain();
    for (const s of this.prebound.values()) s.close();
  }

  get connections(): number {
    let n = 0;
    for (const l of this.listeners.values()) n += l.connections;
    return n;
  }

  destroy(): void {
    for (const l of this.listeners.values()) l.destroy();
    for (const s of this.prebound.values()) s.close();
  }
}
