// The downstream timeouts of one HTTP/1.1 connection, as Envoy's HCM defines them.
import type net from 'node:net';
import type { HcmConfig } from '../connection-manager-config.ts';

/**
 * One socket inactivity timer does the idle work: `idle_timeout` while no request is under way,
 * `stream_idle_timeout` from a request's first byte until its response is done (a read or write
 * re-arms it, as in Envoy). `request_headers_timeout` is a one-shot timer from a head's first byte
 * to its end; `max_connection_duration` drains the connection once. Tunnels keep no timer here.
 */
export class H1Timeouts {
  private readonly config: HcmConfig;
  private readonly onHeaders: () => void;
  /** Called when the socket's inactivity timer fires. */
  readonly fire: () => void;
  private current = -1;
  private headers: NodeJS.Timeout | undefined;
  private readonly lifetime: NodeJS.Timeout | undefined;

  constructor(config: HcmConfig, onIdle: () => void, onHeaders: () => void, onMaxDuration: () => void) {
    this.config = config;
    this.fire = onIdle;
    this.onHeaders = onHeaders;
    if (config.maxConnectionDurationMs > 0) {
      this.lifetime = setTimeout(onMaxDuration, config.maxConnectionDurationMs);
      this.lifetime.unref();
    }
  }

  /** No request under way: idle_timeout. */
  idle(socket: net.Socket): void {
    this.set(socket, this.config.idleTimeoutMs);
  }

  /** A head has begun but is not complete. */
  headStarted(socket: net.Socket): void {
    this.set(socket, this.config.streamIdleTimeoutMs);
    const ms = this.config.requestHeadersTimeoutMs;
    if (ms > 0 && this.headers === undefined) {
      this.headers = setTimeout(this.onHeaders, ms);
      this.headers.unref();
    }
  }

  /** The head is complete (or refused): the request runs under stream_idle_timeout. */
  headDone(socket: net.Socket): void {
    this.clearHeaders();
    this.set(socket, this.config.streamIdleTimeoutMs);
  }

  /** The connection became a tunnel (CONNECT, upgrade): its two ends decide. */
  tunnel(socket: net.Socket): void {
    this.clearHeaders();
    this.set(socket, 0);
  }

  /** Our side is closed: the client has `ms` to close its side (delayed_close_timeout). */
  closing(socket: net.Socket, ms: number): void {
    this.clearHeaders();
    this.set(socket, ms);
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

  private set(socket: net.Socket, ms: number): void {
    if (ms === this.current) return;
    this.current = ms;
    socket.setTimeout(ms);
  }
}
