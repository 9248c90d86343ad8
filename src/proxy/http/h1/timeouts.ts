// The downstream timeouts of one HTTP/1.1 connection, as Envoy's HCM defines them.
import type net from 'node:net';
import type { HcmConfig } from '../connection-manager-config.ts';

/**
 * One socket inactivity timer does the idle work: `idle_timeout` while no request is under way,
 * `stream_idle_timeout` from a request's first byte until its response is done (a read or write
 * re-arms it, as in Envoy). The timer runs at the shorter of the two, so a request does not re-arm
 * it with another duration twice (Node makes a new timer each time); when it fires before the
 * phase's own timeout, it waits out the rest (socket bytes tell whether there was I/O meanwhile).
 * `request_headers_timeout` is a one-shot timer from a head's first byte to its end;
 * `max_connection_duration` drains the connection once. Tunnels keep no timer here.
 */
export class H1Timeouts {
  private readonly config: HcmConfig;
  private readonly onHeaders: () => void;
  private readonly onTimeout: () => void;
  /** The timer's usual duration: the shorter of idle_timeout and stream_idle_timeout (0: neither). */
  private readonly base: number;
  /** The timeout of the current phase (0: none). */
  private limit = 0;
  /** The duration the socket's timer has now (-1: never set). */
  private current = -1;
  /** Inactivity counted by firings with no I/O between them, and the socket's byte count at the last one. */
  private quietMs = 0;
  private ioAtFire = -1;
  private socket: net.Socket | undefined;
  private headers: NodeJS.Timeout | undefined;
  private readonly lifetime: NodeJS.Timeout | undefined;

  constructor(config: HcmConfig, onIdle: () => void, onHeaders: () => void, onMaxDuration: () => void) {
    this.config = config;
    this.onTimeout = onIdle;
    this.onHeaders = onHeaders;
    const { idleTimeoutMs: idle, streamIdleTimeoutMs: stream } = config;
    this.base = idle > 0 && stream > 0 ? Math.min(idle, stream) : Math.max(idle, stream);
    if (config.maxConnectionDurationMs > 0) {
      this.lifetime = setTimeout(onMaxDuration, config.maxConnectionDurationMs);
      this.lifetime.unref();
    }
  }

  /** The socket's inactivity timer fired (its 'timeout' listener). */
  readonly fire = (): void => {
    const socket = this.socket;
    if (socket === undefined || this.limit === 0) return;
    const io = socket.bytesRead + socket.bytesWritten;
    this.quietMs = io === this.ioAtFire ? this.quietMs + this.current : this.current;
    this.ioAtFire = io;
    if (this.quietMs >= this.limit) {
      this.quietMs = 0;
      this.onTimeout();
      return;
    }
    this.arm(socket, this.limit - this.quietMs);
  };

  /** No request under way: idle_timeout. */
  idle(socket: net.Socket): void {
    this.enter(socket, this.config.idleTimeoutMs, this.base);
  }

  /** A head has begun but is not complete. */
  headStarted(socket: net.Socket): void {
    this.enter(socket, this.config.streamIdleTimeoutMs, this.base);
    const ms = this.config.requestHeadersTimeoutMs;
    if (ms > 0 && this.headers === undefined) {
      this.headers = setTimeout(this.onHeaders, ms);
      this.headers.unref();
    }
  }

  /** The head is complete (or refused): the request runs under stream_idle_timeout. */
  headDone(socket: net.Socket): void {
    this.clearHeaders();
    this.enter(socket, this.config.streamIdleTimeoutMs, this.base);
  }

  /** The connection became a tunnel (CONNECT, upgrade): its two ends decide. */
  tunnel(socket: net.Socket): void {
    this.clearHeaders();
    this.enter(socket, 0, 0);
  }

  /** Our side is closed: the client has `ms` to close its side (delayed_close_timeout). */
  closing(socket: net.Socket, ms: number): void {
    this.clearHeaders();
    this.enter(socket, ms, ms);
  }

  clear(): void {
    this.clearHeaders();
    if (this.lifetime) clearTimeout(this.lifetime);
  }

  private clearHeaders(): void {
    if (this.headers === undefined) return;
    clearTimeout(this.headers);
    this.headers = undefined;
  }

  /** A phase begins with I/O (or with `arm`), so the timer counts from now. */
  private enter(socket: net.Socket, limit: number, timer: number): void {
    this.limit = limit;
    this.quietMs = 0;
    this.ioAtFire = -1;
    this.arm(socket, timer);
  }

  private arm(socket: net.Socket, ms: number): void {
    this.socket = socket;
    if (ms === this.current) return;
    this.current = ms;
    socket.setTimeout(ms);
  }
}
