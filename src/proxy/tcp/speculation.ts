// An upstream connection opened before the client has sent a byte, so a server that speaks first is heard at once.
import type net from 'node:net';
import type { TunnelUpstreamHandlers } from '../cluster/tunnel-upstream.ts';

/**
 * How long a new connection may stay silent before the sidecar connects upstream on speculation.
 * Client-first protocols send their first bytes with the connection (or the TLS handshake) and
 * never wait this long; a server-first client waits for the greeting forever. The cost of a
 * client that is merely slow is one upstream connection opened and closed without a byte.
 */
export const QUIET_MS = 25;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The speculative upstream: connects at once, reads the server's first bytes (the greeting) and
 * then calls `spoke`. Its owner either `take`s the connection (to relay it as opaque TCP) or
 * `cancel`s it (the client spoke first, in a protocol that goes elsewhere).
 */
export class Speculation {
  private up: net.Socket | undefined;
  private state: 'connecting' | 'ready' | 'gone' | 'taken' = 'connecting';
  /** The server's first bytes, read before anyone took the connection. */
  greeting: Buffer = EMPTY;
  private waiter: ((up: net.Socket | undefined, greeting: Buffer) => void) | undefined;
  private readonly spoke: () => void;

  constructor(open: (handlers: TunnelUpstreamHandlers) => net.Socket | undefined, spoke: () => void) {
    this.spoke = spoke;
    this.up = open({ ready: (up) => this.ready(up), failed: () => this.gone() });
    if (!this.up) this.state = 'gone';
  }

  /** Whether the server spoke before the client did. */
  get serverFirst(): boolean {
    return this.greeting.length > 0;
  }

  private ready(up: net.Socket): void {
    if (this.state !== 'connecting') return;
    this.state = 'ready';
    up.once('close', this.onClose);
    if (this.waiter) {
      this.handOver();
      return;
    }
    up.on('data', this.onGreeting);
    up.resume();
  }

  private readonly onGreeting = (chunk: Buffer): void => {
    const up = this.up!;
    up.removeListener('data', this.onGreeting);
    up.pause();
    this.greeting = chunk;
    this.spoke();
  };

  /** The server closed before anyone took the connection: whoever takes it gets a fresh one. */
  private readonly onClose = (): void => {
    if (this.state === 'ready') this.gone();
  };

  private gone(): void {
    if (this.state === 'taken') return;
    this.state = 'gone';
    this.up = undefined;
    this.waiter?.(undefined, EMPTY);
    this.waiter = undefined;
  }

  /** Hands the connection (and its greeting) to `use` once it is ready; `undefined`: it failed or closed. */
  take(use: (up: net.Socket | undefined, greeting: Buffer) => void): void {
    this.waiter = use;
    if (this.state === 'ready') this.handOver();
    else if (this.state === 'gone') this.gone();
  }

  private handOver(): void {
    const up = this.up!;
    const use = this.waiter!;
    this.waiter = undefined;
    this.state = 'taken';
    up.removeListener('data', this.onGreeting);
    up.removeListener('close', this.onClose);
    up.pause();
    use(up, this.greeting);
  }

  /** The connection is not needed: closed without a byte sent. */
  cancel(): void {
    if (this.state === 'taken') return;
    this.state = 'gone';
    this.waiter = undefined;
    this.up?.destroy();
    this.up = undefined;
  }
}
