// A listener's cap on open downstream connections (Envoy's per-listener connection limit): over it, a connection is closed at once.
import type net from 'node:net';

export class ConnectionLimit {
  /** Most connections open at once (Infinity: no limit, Istio's default). */
  readonly max: number;
  /** Connections open now (downstream_cx_active of the listener). */
  active = 0;

  constructor(max: number = Number.POSITIVE_INFINITY) {
    this.max = max;
  }

  /** Counts `socket` as open until it closes; false (the caller closes it) when the listener is full. */
  admit(socket: net.Socket): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    socket.once('close', this.release);
    return true;
  }

  private readonly release = (): void => {
    this.active--;
  };
}
