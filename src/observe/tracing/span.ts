// A finished span as the proxy records it: ids, kind, times, Istio's attributes.

/** OTLP SpanKind values. */
export const SPAN_KIND = { server: 2, client: 3 } as const;

export interface Span {
  traceId: string;
  spanId: string;
  /** Absent for the root span of a trace. */
  parentSpanId: string | undefined;
  traceState: string | undefined;
  /** Envoy/Istio name: `<authority><path>` without the query, e.g. `reviews:9080/reviews/1`. */
  name: string;
  kind: (typeof SPAN_KIND)[keyof typeof SPAN_KIND];
  /** Unix time in nanoseconds (BigInt: the value does not fit a double exactly). */
  startNs: bigint;
  endNs: bigint;
  /** Attribute values are strings or integers. */
  attributes: [string, string | number][];
  /** An error (5xx, reset): OTLP status ERROR. */
  error: boolean;
}
