// Envoy's overload manager with the fixed_heap monitor: heap pressure, sampled every 250 ms, turns load-shedding actions on and off.
import v8 from 'node:v8';

/** Pressure (used heap / max heap) at which new requests get 503 (flag OL). */
export const STOP_ACCEPTING_REQUESTS_AT = 0.95;
/** Pressure at which listeners close new connections at once. */
export const STOP_ACCEPTING_CONNECTIONS_AT = 0.98;
/** How often the heap is sampled (Envoy's refresh_interval is 1 s by default; weft samples faster, cheaply). */
const INTERVAL_MS = 250;

/** Settings of the overload manager. */
export interface OverloadConfig {
  /** The heap size the pressure is measured against (Envoy's fixed_heap max_heap_size_bytes). */
  maxHeapBytes: number;
  /** Used heap bytes now; default V8's used_heap_size. */
  sample?: () => number;
}

export class OverloadManager {
  private maxHeapBytes: number;
  private readonly sample: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Last heap pressure measured, 0..1 (overload.envoy.resource_monitors.fixed_heap.pressure). */
  pressure = 0;
  /** overload.envoy.overload_actions.stop_accepting_requests.active */
  stopAcceptingRequests = false;
  /** overload.envoy.overload_actions.stop_accepting_connections.active */
  stopAcceptingConnections = false;

  constructor(config: OverloadConfig) {
    this.maxHeapBytes = config.maxHeapBytes;
    this.sample = config.sample ?? (() => v8.getHeapStatistics().used_heap_size);
  }

  /** Samples now, then every 250 ms (the timer does not keep the process alive). */
  start(): void {
    this.check();
    this.timer ??= setInterval(() => this.check(), INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Changes the heap size the pressure is measured against, and re-evaluates the actions at once. */
  setMaxHeapBytes(bytes: number): void {
    this.maxHeapBytes = bytes;
    this.check();
  }

  /** Measures the heap and sets each action on or off (they recover as soon as pressure falls). */
  check(): void {
    this.pressure = this.sample() / this.maxHeapBytes;
    this.stopAcceptingRequests = this.pressure >= STOP_ACCEPTING_REQUESTS_AT;
    this.stopAcceptingConnections = this.pressure >= STOP_ACCEPTING_CONNECTIONS_AT;
  }
}
