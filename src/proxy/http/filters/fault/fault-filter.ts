// envoy.filters.http.fault: injects delays and aborts into matching requests (Envoy's semantics).

import { matchHeader } from '../../router/matchers.ts';
import type {
  FilterStatus,
  FilterStream,
  HttpFilter,
  HttpFilterConfig,
  HttpFilterFactory,
} from '../filter.ts';
import { compileFault, FAULT_TYPE_URL, type FaultConfig } from './fault-config.ts';

/** Requests being faulted right now, per config (for max_active_faults). */
const active = new WeakMap<FaultConfig, number>();

class FaultFilter implements HttpFilter {
  private readonly name: string;
  private readonly listenerConfig: FaultConfig;
  private timer: NodeJS.Timeout | undefined;
  private counted: FaultConfig | undefined;

  constructor(name: string, config: FaultConfig) {
    this.name = name;
    this.listenerConfig = config;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    // A route's typed_per_filter_config under this filter's name replaces the listener's config.
    const config = (stream.routeConfig?.(this.name) as FaultConfig | undefined) ?? this.listenerConfig;
    for (const h of config.headers) if (!matchHeader(h, stream.head)) return 'Continue';
    if (config.upstreamCluster !== '' && stream.routeCluster?.() !== config.upstreamCluster)
      return 'Continue';
    const delayMs = this.delayFor(config, stream);
    const abort = this.abortFor(config, stream);
    if (delayMs === undefined && abort === undefined) return 'Continue';
    const running = active.get(config) ?? 0;
    if (config.maxActiveFaults !== undefined && running >= config.maxActiveFaults) return 'Continue';
    active.set(config, running + 1);
    this.counted = config;
    if (delayMs !== undefined && delayMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (abort) this.abort(stream, abort);
        else stream.continueDecoding();
      }, delayMs);
      return 'StopIteration';
    }
    if (abort) {
      this.abort(stream, abort);
      return 'StopIteration';
    }
    return 'Continue';
  }

  private delayFor(config: FaultConfig, stream: FilterStream): number | undefined {
    const d = config.delay;
    if (!d || Math.random() >= d.percentage) return undefined;
    if (!d.fromHeader) return d.fixedDelayMs;
    const v = Number(stream.head.get('x-envoy-fault-delay-request'));
    return Number.isFinite(v) && v > 0 ? v : undefined;
  }

  private abortFor(config: FaultConfig, stream: FilterStream): { http?: number; grpc?: number } | undefined {
    const a = config.abort;
    if (!a || Math.random() >= a.percentage) return undefined;
    if (!a.fromHeader) return { http: a.httpStatus, grpc: a.grpcStatus };
    const http = Number(stream.head.get('x-envoy-fault-abort-request'));
    const grpc = Number(stream.head.get('x-envoy-fault-abort-grpc-request'));
    if (http >= 200 && http < 600) return { http };
    if (Number.isInteger(grpc) && grpc >= 0) return { grpc };
    return undefined;
  }

  private abort(stream: FilterStream, abort: { http?: number; grpc?: number }): void {
    // A gRPC status abort is a trailers-only gRPC answer; an HTTP status abort maps for gRPC clients.
    const headers = abort.grpc !== undefined ? ['grpc-status', String(abort.grpc)] : undefined;
    stream.sendLocalReply(abort.http ?? 200, 'fault filter abort', 'FI', headers);
  }

  onDestroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counted) active.set(this.counted, (active.get(this.counted) ?? 1) - 1);
    this.counted = undefined;
  }
}

export const faultFilterFactory: HttpFilterFactory = {
  typeUrl: FAULT_TYPE_URL,
  terminal: false,
  parse(name, config, where): HttpFilterConfig {
    const compiled = compileFault(config, where);
    // Without a delay or an abort of its own, only a route's fault config can make it act.
    const routeOnly = compiled.delay === undefined && compiled.abort === undefined;
    return { name, routeOnly, createFilter: () => new FaultFilter(name, compiled) };
  },
  parsePerRoute(config, where) {
    return compileFault(config, where);
  },
};
