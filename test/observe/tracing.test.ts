// Trace context (W3C, B3) parsing and writing; OTLP/HTTP export to a real collector, and what happens when it is down.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import {
  extractContext,
  newSpanId,
  newTraceId,
  parseB3Single,
  parseTraceparent,
  propagationHeaders,
} from '../../src/observe/tracing/context.ts';
import { MAX_QUEUED_SPANS, OtlpExporter } from '../../src/observe/tracing/exporter.ts';
import { SPAN_KIND, type Span } from '../../src/observe/tracing/span.ts';
import { eventually } from '../helpers/eventually.ts';
import { startCollector } from '../helpers/otlp-collector.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('W3C traceparent: valid, sampled or not; malformed and all-zero ids are ignored', () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`, 'rojo=1'), {
    traceId: TRACE,
    spanId: PARENT,
    sampled: true,
    traceState: 'rojo=1',
  });
  assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.sampled, false);
  assert.equal(parseTraceparent(`00-${'0'.repeat(32)}-${PARENT}-01`), undefined);
  assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-01-extra`), undefined);
  assert.equal(parseTraceparent(`ff-${TRACE}-${PARENT}-01`), undefined);
  assert.equal(parseTraceparent('garbage'), undefined);
});

test('B3 single and multi headers; W3C wins when both are present', () => {
  assert.deepEqual(parseB3Single(`${TRACE}-${PARENT}-1`), {
    traceId: TRACE,
    spanId: PARENT,
    sampled: true,
    traceState: undefined,
  });
  assert.equal(parseB3Single(`a3ce929d0e0e4736-${PARENT}`)?.traceId, `0000000000000000a3ce929d0e0e4736`);
  assert.equal(parseB3Single('1'), undefined);
  const multi: Record<string, string> = { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '0' };
  assert.equal(extractContext((h) => multi[h])?.sampled, false);
  const both: Record<string, string> = { ...multi, traceparent: `00-${TRACE}-${'1'.repeat(16)}-01` };
  assert.equal(extractContext((h) => both[h])?.spanId, '1'.repeat(16));
  const out = propagationHeaders(TRACE, 'a'.repeat(16), PARENT, true);
  assert.deepEqual(out.slice(0, 2), ['traceparent', `00-${TRACE}-${'a'.repeat(16)}-01`]);
  assert.ok(/^[0-9a-f]{32}$/.test(newTraceId()) && /^[0-9a-f]{16}$/.test(newSpanId()));
  assert.notEqual(newSpanId(), newSpanId());
});

function span(name: string, parent?: string): Span {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId: TRACE,
    spanId: newSpanId(),
    parentSpanId: parent,
    traceState: undefined,
    name,
    kind: SPAN_KIND.server,
    startNs: now,
    endNs: now + 1_500_000n,
    attributes: [
      ['http.status_code', 503],
      ['istio.canonical_service', 'reviews'],
    ],
    error: true,
  };
}

test('spans reach an OTLP/HTTP collector in protobuf with ids, times, attributes and status', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const exporter = new OtlpExporter({
    host: '127.0.0.1',
    port: collector.port,
    path: '/v1/traces',
    resource: [['service.name', 'reviews.default']],
  });
  t.after(() => exporter.close());
  const s = span('reviews:9080/r', PARENT);
  exporter.add(s);
  exporter.flush();
  await eventually(async () => assert.equal(collector.spans.length, 1), 10_000, 20);
  const got = collector.spans[0];
  assert.equal(got.traceId, TRACE);
  assert.equal(got.spanId, s.spanId);
  assert.equal(got.parentSpanId, PARENT);
  assert.equal(got.name, 'reviews:9080/r');
  assert.equal(got.kind, 2);
  assert.equal(got.endNs - got.startNs, 1_500_000n);
  assert.equal(got.startNs, s.startNs);
  assert.deepEqual(got.attributes, { 'http.status_code': 503, 'istio.canonical_service': 'reviews' });
  assert.equal(got.statusCode, 2);
  assert.equal(got.service, 'reviews.default');
  await eventually(async () => assert.equal(exporter.exported, 1), 10_000, 20);
});

test('a dead collector: spans are dropped and counted; the queue is bounded; adding never throws', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const exporter = new OtlpExporter({ host: '127.0.0.1', port, path: '/v1/traces', resource: [] });
  t.after(() => exporter.close());
  // One batch goes out (and fails); the queue holds MAX_QUEUED_SPANS; the rest is dropped at once.
  for (let i = 0; i < MAX_QUEUED_SPANS + 1000; i++) exporter.add(span(`s${i}`));
  assert.equal(exporter.dropped, 1000 - 512);
  await eventually(async () => assert.ok(exporter.dropped >= 1000), 10_000, 20);
  assert.equal(exporter.exported, 0);
});
