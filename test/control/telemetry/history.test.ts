// The traffic view's parts without processes: Prometheus text reading, deltas in bounded rings, quantiles, edge counting, tap filters and authorization.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { TelemetryCollector } from '../../../src/control/telemetry/collector.ts';
import {
  BUCKET_BOUNDS,
  F,
  FIELDS,
  quantile,
  TrafficHistory,
} from '../../../src/control/telemetry/history.ts';
import { parsePrometheusText } from '../../../src/control/telemetry/prom-text.ts';
import { edges, stat, Window } from '../../../src/control/telemetry/queries.ts';
import { telemetryRoutes } from '../../../src/control/telemetry/routes.ts';
import { MeshTelemetry } from '../../../src/control/telemetry/telemetry.ts';
import { type TapRecord, tapMatches } from '../../../src/observe/tap.ts';

test('the text format: labels with escapes, comments skipped, only the families asked for', () => {
  const body = [
    '# TYPE istio_requests_total counter',
    'istio_requests_total{a="x\\"y",b="1\\n2"} 7',
    'istio_other 3',
    'envoy_x{a="b"} 1',
    'istio_requests_total{broken="} 1',
  ].join('\n');
  const samples = parsePrometheusText(body, ['istio_requests_total']);
  assert.equal(samples.length, 1);
  assert.deepEqual(samples[0].labels, { a: 'x"y', b: '1\n2' });
  assert.equal(samples[0].value, 7);
});

test('quantiles interpolate within the bucket, as histogram_quantile', () => {
  const t = new Float64Array(FIELDS);
  // 10 requests: 5 at or below 1 ms, all at or below 5 ms.
  for (let i = 0; i < BUCKET_BOUNDS.length; i++)
    t[F.buckets + i] = BUCKET_BOUNDS[i] >= 1 ? (BUCKET_BOUNDS[i] >= 5 ? 10 : 5) : 0;
  assert.equal(quantile(t, 0.5), 1);
  assert.equal(quantile(t, 0.9), 1 + (4 * 4) / 5);
  assert.equal(quantile(new Float64Array(FIELDS), 0.5), null);
});

test('the history keeps at most maxSeries series, dropping the longest idle', () => {
  const h = new TrafficHistory({ capacity: 4, maxSeries: 2 });
  const key = (w: string) => ({
    reporter: 'source' as const,
    sourceWorkload: w,
    sourceNamespace: 'd',
    sourcePrincipal: 'unknown',
    destinationService: 's.d.svc.cluster.local',
    destinationServiceName: 's',
    destinationServiceNamespace: 'd',
    destinationWorkload: 's',
    destinationNamespace: 'd',
    destinationPrincipal: 'unknown',
    destinationVersion: 'v1',
    protocol: 'http',
    security: 'unknown',
  });
  h.add(h.get(key('a')), F.requests, 1);
  h.close(1);
  h.add(h.get(key('b')), F.requests, 1);
  h.close(2);
  h.get(key('c'));
  assert.equal(h.size, 2);
  assert.equal(h.evicted, 1);
  assert.deepEqual(
    [...h.series()].map((s) => s.key.sourceWorkload),
    ['b', 'c'],
  );
  // The ring wraps: after capacity closes, old slots are reused (cleared first).
  for (let i = 0; i < 5; i++) h.close(10 + i);
  assert.equal(stat(h, new Window(h, 60, 1000), 'svc')[0]?.requests ?? 0, 0);
});

/** A fake admin port serving `body()` at /stats/prometheus. */
async function fakeAdmin(body: () => string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end(body()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const SRC =
  'reporter="source",source_workload="pp",source_workload_namespace="d",destination_service="r.d.svc.cluster.local",destination_service_name="r",destination_service_namespace="d",destination_workload="r",destination_workload_namespace="d",destination_version="v1",connection_security_policy="unknown"';
const DST = SRC.replace('reporter="source"', 'reporter="destination"').replace('"unknown"', '"mutual_tls"');

test('the collector takes counter deltas (first scrape is the baseline), counts each request once, and skips a dead proxy', async () => {
  let ok = 10;
  let failed = 2;
  const text = () =>
    [
      `istio_requests_total{${SRC},response_code="200"} ${ok}`,
      `istio_requests_total{${SRC},response_code="503"} ${failed}`,
      `istio_requests_total{${DST},response_code="200"} ${ok}`,
    ].join('\n');
  const admin = await fakeAdmin(text);
  const history = new TrafficHistory({ capacity: 10, maxSeries: 100 });
  const collector = new TelemetryCollector({
    history,
    intervalMs: 1000,
    targets: () => [
      { id: 'a', admin: admin.url },
      { id: 'dead', admin: 'http://127.0.0.1:1' },
    ],
  });
  try {
    await collector.tick();
    ok += 6;
    failed += 3;
    await collector.tick();
    assert.deepEqual(collector.lastRound.failed, 1);
    const w = new Window(history, 60, 1000);
    const [row] = stat(history, w, 'svc');
    assert.equal(row.requests, 9);
    assert.equal(row.successRate, 0.6667);
    const [edge] = edges(history, w);
    assert.equal(edge.mtls, true);
    assert.deepEqual(edge.versions, { v1: 9 });
    // A counter that went down (a restarted proxy) counts from zero.
    ok = 1;
    failed = 0;
    await collector.tick();
    assert.equal(stat(history, new Window(history, 1, 1000), 'svc')[0].requests, 1);
  } finally {
    admin.server.close();
  }
});

test('tap filters: service by name or host, path prefix, method, namespace of either side', () => {
  const r = {
    method: 'GET',
    path: '/api/x',
    source: { namespace: 'front' },
    destination: { service: 'reviews.default.svc.cluster.local', namespace: 'default' },
  } as TapRecord;
  assert.ok(tapMatches({ service: 'reviews', pathPrefix: '/api', method: 'get', namespace: 'front' }, r));
  assert.ok(tapMatches({ service: 'reviews.default.svc.cluster.local' }, r));
  assert.ok(!tapMatches({ service: 'review' }, r));
  assert.ok(!tapMatches({ pathPrefix: '/other' }, r));
  assert.ok(!tapMatches({ method: 'POST' }, r));
  assert.ok(!tapMatches({ namespace: 'other' }, r));
});

test('GET /api/v1/tap answers 401 without loopback or the operator token, before opening any proxy tap', async () => {
  const telemetry = new MeshTelemetry(() => []);
  for (const access of ['missing-token', 'invalid-token'] as const) {
    const tap = telemetryRoutes({
      telemetry,
      proxies: () => [],
      status: () => [],
      store: {} as never,
      access: () => access,
    }).find((r) => r.path === '/api/v1/tap');
    await assert.rejects(
      async () =>
        tap?.methods.GET?.({
          req: {} as never,
          res: {} as never,
          url: new URL('http://x/api/v1/tap'),
          params: [],
          readJson: async () => ({}),
        }),
      (err: Error & { code?: string }) => err.code === 'WEFT_UNAUTHORIZED',
    );
  }
});
