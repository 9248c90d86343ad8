// HTTP telemetry through two real sidecars: Istio's request metrics at both reporters read by a real Prometheus, access logs switched by Telemetry.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { grpcEchoClient, type Message, startGrpcEcho } from '../helpers/echo-grpc.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Prometheus, startPrometheus } from '../helpers/prometheus.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
const apps: Echo[] = [];
let reviews: MeshSidecar;
let client: MeshSidecar;
let prometheus: Prometheus | undefined;

const SENT = { ok: 10, failing: 4, denied: 3, slow: 3 };

async function call(path: string): Promise<number> {
  return (await request(client.outbound, { host: 'reviews:9080', path })).status;
}

before(async () => {
  mesh = await startMesh();
  const app = await startHttpEcho('reviews');
  const clientApp = await startHttpEcho('productpage');
  const greeter = await startGrpcEcho('greeter');
  apps.push(app, clientApp, greeter);
  await mesh.sidecar([
    '--service',
    'greeter',
    '--app-port',
    String(greeter.port),
    '--service-port',
    '50051',
    '--protocol',
    'grpc',
  ]);
  [reviews, client] = await Promise.all([
    mesh.sidecar([
      '--service',
      'reviews',
      '--version',
      'v1',
      '--app-port',
      String(app.port),
      '--service-port',
      '9080',
    ]),
    mesh.sidecar(['--service', 'productpage', '--app-port', String(clientApp.port)]),
  ]);
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /slow}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-denied, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{to: [{operation: {paths: [/denied]}}]}]
`);
  await eventually(async () => {
    assert.equal(await call('/denied'), 403);
    assert.equal(await call('/ready-check'), 200);
  }, 60_000);
});

after(async () => {
  await prometheus?.stop();
  await mesh?.stop();
  for (const a of apps) await a.close();
});

test('Prometheus through weft SD: requests by code at the destination, the fault delay in the p99 at the source', async () => {
  prometheus = await startPrometheus(
    `${mesh.server}/api/v1/prometheus/targets`,
    `127.0.0.1:${new URL(mesh.server).port}`,
  );
  const p = prometheus;
  for (let i = 0; i < SENT.ok; i++) assert.equal(await call(`/ok/${i}`), 200);
  for (let i = 0; i < SENT.failing; i++) assert.equal(await call('/status/500'), 500);
  for (let i = 0; i < SENT.denied; i++) assert.equal(await call('/denied'), 403);
  for (let i = 0; i < SENT.slow; i++) assert.equal(await call(`/slow/${i}`), 200);
  // The requests of before() (one /denied, one 200 at least) are counted too: read them first.
  const base = `reporter="destination",destination_service_name="reviews"`;
  await eventually(
    async () => {
      const rows = await p.query(`sum by (response_code) (istio_requests_total{${base}})`);
      const byCode = Object.fromEntries(rows.map((r) => [r.metric.response_code, r.value]));
      assert.ok(byCode['200'] >= SENT.ok + SENT.slow, JSON.stringify(byCode));
      assert.equal(byCode['500'], SENT.failing, JSON.stringify(byCode));
      assert.ok(byCode['403'] >= SENT.denied, JSON.stringify(byCode));
      const labelled = await p.query(
        `sum(istio_requests_total{${base},response_code="500",source_workload="productpage",source_principal="spiffe://cluster.local/ns/default/sa/productpage",destination_version="v1",connection_security_policy="mutual_tls"})`,
      );
      assert.equal(labelled[0]?.value, SENT.failing);
      const p99 = await p.query(
        'histogram_quantile(0.99, sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="reviews",response_code="200"}))',
      );
      assert.ok(p99[0]?.value >= 250, `p99 ${p99[0]?.value} ms reflects the 300 ms delay`);
      const source = await p.query(
        'sum(istio_requests_total{reporter="source",source_workload="productpage",destination_workload="reviews",response_code="500"})',
      );
      assert.equal(source[0]?.value, SENT.failing, 'the source reporter learnt the destination workload');
    },
    60_000,
    500,
  );
});

test('proxied responses count in downstream_rq_xx and in the request time histograms', async () => {
  const body = (await request(reviews.admin, { path: '/stats/prometheus' })).body.toString('utf8');
  assert.match(
    body,
    /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="inbound\|9080\|\|",le="\+Inf"\} [1-9]/,
  );
  const source = (await request(client.admin, { path: '/stats/prometheus' })).body.toString('utf8');
  assert.match(
    source,
    /envoy_cluster_upstream_rq_time_count\{envoy_cluster_name="outbound\|9080\|\|reviews\.default\.svc\.cluster\.local"\} [1-9]/,
  );
  assert.match(
    body,
    /envoy_http_downstream_rq_xx\{envoy_http_conn_manager_prefix="inbound_[^"]+",envoy_response_code_class="2"\} [1-9]/,
  );
  assert.match(
    body,
    /envoy_http_downstream_rq_time_bucket\{envoy_http_conn_manager_prefix="inbound_0\.0\.0\.0_\d+",le="\+Inf"\} [1-9]/,
  );
  assert.match(
    body,
    /envoy_http_downstream_rq_xx\{envoy_http_conn_manager_prefix="inbound_[^"]+",envoy_response_code_class="5"\} [1-9]/,
  );
});

test('access logs switched per workload by a Telemetry resource: JSON, TEXT, then off, no restart', async () => {
  const file = join(mesh.dir, 'reviews-access.log');
  await mesh.apply(`apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  accessLogEncoding: JSON
  extensionProviders:
  - name: reviews-json
    envoyFileAccessLog: {path: ${file}, logFormat: {labels: {code: "%RESPONSE_CODE%", path: "%REQ(:PATH)%", flags: "%RESPONSE_FLAGS%", id: "%REQ(X-REQUEST-ID)%"}}}
  - name: reviews-text
    envoyFileAccessLog: {path: ${file}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-logs, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging: [{providers: [{name: reviews-json}], match: {mode: SERVER}}]
`);
  await eventually(
    async () => {
      await call('/logged-json');
      const lines = (await readFile(file, 'utf8').catch(() => '')).trim().split('\n');
      const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      assert.ok(json.some((j) => j.path === '/logged-json' && j.code === 200 && j.flags === '-' && j.id));
    },
    30_000,
    300,
  );
  await mesh.apply(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-logs, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging: [{providers: [{name: reviews-text}], match: {mode: SERVER}}]
`);
  await eventually(
    async () => {
      await call('/logged-text');
      const text = await readFile(file, 'utf8');
      assert.match(text, /\n\[[0-9T:.-]+Z\] "GET \/logged-text HTTP\/1\.1" 200 - via_upstream /);
    },
    30_000,
    300,
  );
  await mesh.apply(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-logs, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging: [{disabled: true}]
`);
  // Once the proxy has the change, a request leaves no line (each try has its own path).
  let n = 0;
  await eventually(
    async () => {
      const path = `/logged-off-${n++}`;
      await call(path);
      await new Promise((r) => setTimeout(r, 500));
      assert.doesNotMatch(await readFile(file, 'utf8'), new RegExp(`${path} `));
    },
    30_000,
    100,
  );
});

test('gRPC calls count with request_protocol grpc and their grpc_response_status', async () => {
  const c = grpcEchoClient(`127.0.0.1:${client.outbound}`, 'greeter:50051');
  const unary = (m: Message) =>
    new Promise<grpc.ServiceError | null>((resolve) =>
      (c.Unary as unknown as (m: Message, cb: grpc.requestCallback<Message>) => void)(m, (e) => resolve(e)),
    );
  try {
    await eventually(async () => assert.equal(await unary({ id: 0 }), null), 30_000);
    for (let i = 1; i <= 3; i++) assert.equal(await unary({ id: i }), null);
    assert.equal((await unary({ fail: true, id: 9 }))?.code, grpc.status.NOT_FOUND);
  } finally {
    c.close();
  }
  const body = (await request(client.admin, { path: '/stats/prometheus' })).body.toString('utf8');
  const count = (status: string) =>
    Number(
      body
        .split('\n')
        .find(
          (l) =>
            l.startsWith('istio_requests_total{reporter="source"') &&
            l.includes('destination_service_name="greeter"') &&
            l.includes('request_protocol="grpc"') &&
            l.includes(`grpc_response_status="${status}"`),
        )
        ?.split(' ')
        .pop() ?? 0,
    );
  assert.ok(
    count('0') >= 4,
    body
      .split('\n')
      .filter((l) => l.includes('greeter'))
      .join('\n'),
  );
  assert.equal(count('5'), 1);
});
