// What the telemetry hook remembers of one request between its hook calls.
import type { SecurityPolicy, WorkloadLabels } from '../../../observe/istio-metrics.ts';
import type { SPAN_KIND } from '../../../observe/tracing/span.ts';
import type { TracingConfig } from '../tracing-config.ts';

/** What one stream remembers between its hooks (one object per stream, reused by the next request on it). */
export interface RequestState {
  /** Between the request's start and its completion. */
  begun: boolean;
  /** performance.now() when the head arrived (wall time: `wallTime(st.start)`). */
  start: number;
  requestBytes: number;
  responseBytes: number;
  /** The other side's workload, once known. */
  peer: WorkloadLabels;
  policy: SecurityPolicy;
  grpcStatus: string;
  /** The response head as sent (flat list), for %RESP()% in access logs; null for a local reply. */
  responseHeaders: string[] | null;
  span: SpanState | undefined;
}

/** The wall-clock time (ms since the epoch) of a performance.now() reading. */
export function wallTime(monotonic: number): number {
  return performance.timeOrigin + monotonic;
}

/** The span of a request being traced. */
export interface SpanState {
  config: TracingConfig;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  sampled: boolean;
  kind: (typeof SPAN_KIND)[keyof typeof SPAN_KIND];
}
