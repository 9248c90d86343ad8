// Micro-benchmark: cost per request of Istio's four request metrics (25 labels) with weft's registry and with prom-client.
// Run: node bench/metrics-registry.ts   (figures quoted in docs/design/metrics.md)
import client from 'prom-client';
import { IstioMetrics, serviceOfCluster, UNKNOWN_WORKLOAD } from '../src/observe/istio-metrics.ts';
import { MetricsRegistry } from '../src/observe/metrics.ts';

const N = 2_000_000;
const CODES = [200, 200, 200, 200, 503, 404];

function time(name: string, fn: (i: number) => void): void {
  for (let i = 0; i < 100_000; i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`| ${name} | ${ns.toFixed(0)} ns |`);
}

// weft: the edge is resolved once per (peer, service); each request looks up its outcome by code.
const weft = new IstioMetrics(new MetricsRegistry(), { ...UNKNOWN_WORKLOAD, workload: 'reviews' });
const edge = weft.edge(
  'destination',
  { ...UNKNOWN_WORKLOAD, workload: 'productpage' },
  serviceOfCluster('outbound|9080||reviews.default.svc.cluster.local'),
  'http',
  'mutual_tls',
);

// prom-client with the same names, labels and buckets.
const labelNames = [
  'reporter',
  ...['source', 'destination'].flatMap((p) =>
    [
      'workload',
      'workload_namespace',
      'principal',
      'app',
      'version',
      'canonical_service',
      'canonical_revision',
      'cluster',
    ].map((l) => `${p}_${l}`),
  ),
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'request_protocol',
  'connection_security_policy',
  'response_code',
  'grpc_response_status',
  'response_flags',
];
const reg = new client.Registry();
const requests = new client.Counter({
  name: 'istio_requests_total',
  help: 'r',
  labelNames,
  registers: [reg],
});
const hist = (name: string, buckets: number[]) =>
  new client.Histogram({ name, help: 'h', labelNames, buckets, registers: [reg] });
const duration = hist(
  'istio_request_duration_milliseconds',
  [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
);
const reqBytes = hist('istio_request_bytes', [1, 10, 100, 1000, 10000, 100000, 1000000]);
const respBytes = hist('istio_response_bytes', [1, 10, 100, 1000, 10000, 100000, 1000000]);
const base: Record<string, string> = Object.fromEntries(labelNames.map((l) => [l, 'unknown']));

console.log('| per request: istio_requests_total + 3 histograms, 25 labels | time |\n|---|---|');
time('weft registry (series cached per outcome)', (i) => {
  const s = edge.request(CODES[i % 6]);
  s.requests.value++;
  s.duration.observe(i % 300);
  s.requestBytes.observe(120);
  s.responseBytes.observe(1500);
});
time('prom-client, labels object per request', (i) => {
  const labels = { ...base, response_code: String(CODES[i % 6]) };
  requests.inc(labels);
  duration.observe(labels, i % 300);
  reqBytes.observe(labels, 120);
  respBytes.observe(labels, 1500);
});
type Child = { r: ReturnType<typeof requests.labels>; d: ReturnType<typeof duration.labels> };
const children = new Map<number, Child & { q: Child['d']; p: Child['d'] }>();
time('prom-client, children cached per outcome', (i) => {
  const code = CODES[i % 6];
  let c = children.get(code);
  if (!c) {
    const labels = { ...base, response_code: String(code) };
    c = {
      r: requests.labels(labels),
      d: duration.labels(labels),
      q: reqBytes.labels(labels),
      p: respBytes.labels(labels),
    };
    children.set(code, c);
  }
  c.r.inc();
  c.d.observe(i % 300);
  c.q.observe(120);
  c.p.observe(1500);
});
