// Tap: live records of finished requests for whoever subscribes (admin /tap); nothing is built while nobody listens.
import type { Reporter, ServiceLabels, WorkloadLabels } from './istio-metrics.ts';

/** One finished request as tap shows it: never a body, never a header but :authority. */
export interface TapRecord {
  /** Wall time the request started (ISO 8601). */
  time: string;
  /** `source`: the app's outbound call (or a gateway); `destination`: a call into this sidecar's app. */
  reporter: Reporter;
  method: string;
  authority: string;
  /** The path without its query string (queries may carry secrets). */
  path: string;
  /** HTTP status; 0 when no response was sent. */
  status: number;
  grpcStatus: string;
  latencyMs: number;
  requestBytes: number;
  responseBytes: number;
  /** Envoy response flags, `-` for none (e.g. `FI` fault injected, `UH` no healthy upstream). */
  flags: string;
  /** `mutual_tls`, `none` or `unknown` (a source sidecar does not know the policy). */
  security: string;
  source: Pick<WorkloadLabels, 'workload' | 'namespace' | 'principal'>;
  destination: Pick<WorkloadLabels, 'workload' | 'namespace' | 'principal' | 'version'> & {
    service: string;
  };
}

/** What a subscriber asks for; absent fields match everything. */
export interface TapFilter {
  namespace?: string;
  /** Destination service name (`reviews`) or host (`reviews.default.svc.cluster.local`). */
  service?: string;
  pathPrefix?: string;
  method?: string;
}

export function tapMatches(filter: TapFilter, r: TapRecord): boolean {
  if (filter.method && r.method !== filter.method.toUpperCase()) return false;
  if (filter.pathPrefix && !r.path.startsWith(filter.pathPrefix)) return false;
  if (
    filter.namespace &&
    r.destination.namespace !== filter.namespace &&
    r.source.namespace !== filter.namespace
  )
    return false;
  if (filter.service) {
    const host = r.destination.service;
    if (host !== filter.service && !host.startsWith(`${filter.service}.`)) return false;
  }
  return true;
}

/** The facts the telemetry hook has at a request's end; turned into a TapRecord only when someone taps. */
export interface TapFacts {
  reporter: Reporter;
  startWallMs: number;
  method: string;
  authority: string;
  rawPath: string;
  status: number;
  grpcStatus: string;
  latencyMs: number;
  requestBytes: number;
  responseBytes: number;
  flags: string;
  security: string;
  self: WorkloadLabels;
  peer: WorkloadLabels;
  service: ServiceLabels;
}

function tapRecord(f: TapFacts): TapRecord {
  const [src, dst] = f.reporter === 'destination' ? [f.peer, f.self] : [f.self, f.peer];
  const q = f.rawPath.indexOf('?');
  return {
    time: new Date(f.startWallMs).toISOString(),
    reporter: f.reporter,
    method: f.method,
    authority: f.authority,
    path: q === -1 ? f.rawPath : f.rawPath.slice(0, q),
    status: f.status,
    grpcStatus: f.grpcStatus,
    latencyMs: Math.round(f.latencyMs * 1000) / 1000,
    requestBytes: f.requestBytes,
    responseBytes: f.responseBytes,
    flags: f.flags,
    security: f.security,
    source: { workload: src.workload, namespace: src.namespace, principal: src.principal },
    destination: {
      service: f.service.host,
      workload: dst.workload,
      namespace: dst.namespace,
      principal: dst.principal,
      version: dst.version,
    },
  };
}

type Subscriber = { filter: TapFilter; send(record: TapRecord): void };

/** The subscribers of one proxy; `active` is the only cost a request pays while nobody taps. */
export class TapHub {
  active = false;
  readonly #subscribers = new Set<Subscriber>();

  /** Calls `send` with each matching record until the returned function is called. */
  subscribe(filter: TapFilter, send: (record: TapRecord) => void): () => void {
    const sub = { filter, send };
    this.#subscribers.add(sub);
    this.active = true;
    return () => {
      this.#subscribers.delete(sub);
      this.active = this.#subscribers.size > 0;
    };
  }

  publish(facts: TapFacts): void {
    const record = tapRecord(facts);
    for (const sub of this.#subscribers) if (tapMatches(sub.filter, record)) sub.send(record);
  }
}
