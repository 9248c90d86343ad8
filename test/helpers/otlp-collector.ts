// Test helper: an OTLP/HTTP trace collector that decodes ExportTraceServiceRequest with the schema of opentelemetry-proto (trace/v1).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

// The messages of opentelemetry/proto/{collector/trace,trace,resource,common}/v1, as in the .proto files.
const SCHEMA = {
  nested: {
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    InstrumentationScope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        status: { type: 'Status', id: 15 },
      },
    },
    ScopeSpans: {
      fields: {
        scope: { type: 'InstrumentationScope', id: 1 },
        spans: { rule: 'repeated', type: 'Span', id: 2 },
      },
    },
    ResourceSpans: {
      fields: {
        resource: { type: 'Resource', id: 1 },
        scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
      },
    },
    ExportTraceServiceRequest: {
      fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } },
    },
  },
};
const REQUEST = protobuf.Root.fromJSON(SCHEMA).lookupType('ExportTraceServiceRequest');

/** A received span, flattened. */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number>;
  statusCode: number;
  /** `service.name` of its resource. */
  service: string;
}

export interface Collector {
  port: number;
  spans: CollectedSpan[];
  requests: number;
  close(): Promise<void>;
}

type Long = { low: number; high: number; unsigned?: boolean } | number;
const big = (v: Long) =>
  typeof v === 'number' ? BigInt(v) : (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function attrs(
  list: { key: string; value?: Record<string, unknown> }[] = [],
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const kv of list) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue !== undefined ? String(v.stringValue) : Number(big(v.intValue as Long));
  }
  return out;
}

/** Starts the collector on 127.0.0.1, port 0; POST /v1/traces with application/x-protobuf. */
export async function startCollector(): Promise<Collector> {
  const collector: Collector = { port: 0, spans: [], requests: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      collector.requests++;
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      // biome-ignore lint/suspicious/noExplicitAny: decoded protobuf object
      const body = REQUEST.toObject(REQUEST.decode(Buffer.concat(parts))) as any;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            collector.spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              startNs: big(s.startTimeUnixNano),
              endNs: big(s.endTimeUnixNano),
              attributes: attrs(s.attributes),
              statusCode: s.status?.code ?? 0,
              service,
            });
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  collector.port = (server.address() as AddressInfo).port;
  collector.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return collector;
}
