// The metrics registry: Prometheus text of counters, gauges and histograms, label escaping, merging workers' output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DURATION_BUCKETS_MS,
  IstioMetrics,
  serviceOfCluster,
  UNKNOWN_WORKLOAD,
} from '../../src/observe/istio-metrics.ts';
import { MetricsRegistry } from '../../src/observe/metrics.ts';
import { mergePrometheus } from '../../src/proxy/admin/prometheus.ts';

test('counters and gauges render with HELP, TYPE and escaped labels; a series is resolved once', () => {
  const r = new MetricsRegistry();
  const c = r.counter('x_total', 'Things.', ['a', 'b']);
  const s = c.series(['1', 'say "hi"\\\n']);
  s.inc();
  s.inc(2);
  assert.equal(c.series(['1', 'say "hi"\\\n']), s, 'the same label values give the same series');
  const g = r.gauge('y', 'Level.');
  g.series().value = 7;
  assert.equal(
    r.render(),
    '# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="1",b="say \\"hi\\"\\\\\\n"} 3\n' +
      '# HELP y Level.\n# TYPE y gauge\ny 7\n',
  );
  assert.throws(() => c.series(['only one']), /1 values for 2 names/);
  assert.throws(() => r.counter('x_total', 'again'), /registered twice/);
});

test('a histogram renders cumulative buckets with le last, +Inf, sum and count', () => {
  const r = new MetricsRegistry();
  const h = r.histogram('d_ms', 'Duration.', ['code'], [1, 10, 100]);
  const s = h.series(['200']);
  for (const v of [0.5, 1, 3, 10, 50, 1000]) s.observe(v);
  assert.equal(
    r.render(),
    '# HELP d_ms Duration.\n# TYPE d_ms histogram\n' +
      'd_ms_bucket{code="200",le="1"} 2\nd_ms_bucket{code="200",le="10"} 4\nd_ms_bucket{code="200",le="100"} 5\n' +
      'd_ms_bucket{code="200",le="+Inf"} 6\nd_ms_sum{code="200"} 1064.5\nd_ms_count{code="200"} 6\n',
  );
});

test("Istio's families: both reporters put the peer on the right side; one series per outcome", () => {
  const r = new MetricsRegistry();
  const self = {
    ...UNKNOWN_WORKLOAD,
    workload: 'reviews',
    app: 'reviews',
    version: 'v1',
    namespace: 'default',
  };
  const m = new IstioMetrics(r, self);
  const peer = { ...UNKNOWN_WORKLOAD, workload: 'productpage' };
  const service = serviceOfCluster('outbound|9080||reviews.default.svc.cluster.local');
  assert.deepEqual(service, {
    host: 'reviews.default.svc.cluster.local',
    name: 'reviews',
    namespace: 'default',
  });
  const edge = m.edge('destination', peer, service, 'http', 'mutual_tls');
  assert.equal(m.edge('destination', peer, service, 'http', 'mutual_tls'), edge, 'edges are cached');
  const ok = edge.request(200);
  assert.equal(edge.request(200), ok);
  ok.requests.inc();
  ok.duration.observe(12);
  edge.request(503, '-', 'UF').requests.inc();
  const text = r.render();
  assert.match(
    text,
    /istio_requests_total\{reporter="destination",source_workload="productpage",.*destination_workload="reviews",.*response_code="200",grpc_response_status="-",response_flags="-"\} 1/,
  );
  assert.match(text, /response_code="503",grpc_response_status="-",response_flags="UF"\} 1/);
  assert.match(text, /istio_request_duration_milliseconds_bucket\{.*response_code="200".*,le="25"\} 1/);
  assert.equal(DURATION_BUCKETS_MS.length, 19);
  m.edge('source', peer, service, 'http', 'unknown').request(200).requests.inc();
  assert.match(
    r.render(),
    /reporter="source",source_workload="reviews",.*destination_workload="productpage"/,
  );
});

test("mergePrometheus adds workers' histogram samples and keeps one HELP and TYPE per family", () => {
  const one = () => {
    const r = new MetricsRegistry();
    const h = r.histogram('d_ms', 'Duration.', [], [1]);
    h.series().observe(0.5);
    h.series().observe(5);
    return r.render();
  };
  assert.equal(
    mergePrometheus([one(), one()]),
    '# HELP d_ms Duration.\n# TYPE d_ms histogram\nd_ms_bucket{le="1"} 2\nd_ms_bucket{le="+Inf"} 4\nd_ms_sum 11\nd_ms_count 4\n',
  );
});
