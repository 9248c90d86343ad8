// A span per request on each sidecar: the incoming context continued (or a trace started), headers rewritten for the next hop, the span exported.
import type { Reporter } from '../../../observe/istio-metrics.ts';
import type { ProxyTelemetry } from '../../../observe/proxy-telemetry.ts';
import {
  extractContext,
  newSpanId,
  newTraceId,
  PROPAGATION_HEADERS,
  propagationHeaders,
} from '../../../observe/tracing/context.ts';
import { SPAN_KIND } from '../../../observe/tracing/span.ts';
import type { HttpStream } from '../stream/http-stream.ts';
import type { TracingConfig } from '../tracing-config.ts';
import { type RequestState, type SpanState, wallTime } from './request-state.ts';

/**
 * Continues the caller's trace (W3C, else B3) or starts one, sampled as the caller decided or,
 * without a decision, at the configured percentage; this proxy's span becomes the parent the next
 * hop sees. The server sidecar's span is a SERVER span, the client sidecar's a CLIENT span.
 */
export function startSpan(stream: HttpStream, config: TracingConfig, reporter: Reporter): SpanState {
  const head = stream.head;
  const ctx = extractContext((name) => head.get(name));
  const sampled = ctx?.sampled ?? Math.random() * 100 < config.samplingPercent;
  const span: SpanState = {
    config,
    traceId: ctx?.traceId ?? newTraceId(),
    spanId: newSpanId(),
    parentSpanId: ctx?.spanId,
    traceState: ctx?.traceState,
    sampled,
    kind: reporter === 'destination' ? SPAN_KIND.server : SPAN_KIND.client,
  };
  dropPropagation(head.headers);
  const out = propagationHeaders(span.traceId, span.spanId, span.parentSpanId, sampled);
  for (let i = 0; i < out.length; i += 2) head.add(out[i], out[i + 1]);
  return span;
}

const PROPAGATION = new Set(PROPAGATION_HEADERS);

/** Removes the incoming context headers in one pass over the flat header list. */
function dropPropagation(h: string[]): void {
  let w = 0;
  for (let r = 0; r < h.length; r += 2) {
    if (PROPAGATION.has(h[r])) continue;
    h[w] = h[r];
    h[w + 1] = h[r + 1];
    w += 2;
  }
  h.length = w;
}

/** Exports a sampled span with Istio's attributes (never waits on the collector). */
export function finishSpan(
  stream: HttpStream,
  st: RequestState,
  code: number,
  flags: string,
  telemetry: ProxyTelemetry,
): void {
  const span = st.span!;
  const collector = span.config.collector;
  if (!span.sampled || collector === undefined) return;
  const head = stream.head;
  const self = telemetry.istio.self;
  const startNs = BigInt(Math.round(wallTime(st.start) * 1000)) * 1000n;
  const endNs = BigInt(Math.round(wallTime(performance.now()) * 1000)) * 1000n;
  telemetry.exporter(collector, span.config.serviceName).add({
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    traceState: span.traceState,
    name: `${head.authority}${head.pathOnly()}`,
    kind: span.kind,
    startNs,
    endNs: endNs > startNs ? endNs : startNs,
    attributes: [
      ['http.method', head.method],
      ['http.url', `${head.scheme}://${head.authority}${head.path}`],
      ['http.protocol', head.protocol],
      ['http.status_code', code],
      ['response_flags', flags],
      ['request_size', st.requestBytes],
      ['response_size', st.responseBytes],
      ['upstream_cluster', stream.router.cluster?.name ?? '-'],
      ['guid:x-request-id', stream.requestId],
      ['istio.canonical_service', self.app],
      ['istio.canonical_revision', self.version],
      ['istio.namespace', self.namespace],
      ['istio.mesh_id', 'cluster.local'],
      ['peer.address', head.remoteAddress],
      ['component', 'proxy'],
    ],
    error: code === 0 || code >= 500,
  });
}
