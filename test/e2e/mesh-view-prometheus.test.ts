// `weft control-plane --prometheus URL`: stat and edges answered from a real Prometheus (Debian's) that scrapes real sidecars.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { freePort, type Prometheus, startPrometheus } from '../helpers/prometheus.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let prometheus: Prometheus | undefined;
const apps: Echo[] = [];
let client: MeshSidecar;

async function call(path: string): Promise<number> {
  return (await request(client.outbound, { host: 'reviews:9080', path })).status;
}

async function json<T>(...args: string[]): Promise<T> {
  const r = await runCli([...args, '-o', 'json', '--server', mesh.server], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `weft ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

before(async () => {
  const port = await freePort();
  mesh = await startMesh(['--telemetry-interval', '1s', '--prometheus', `http://127.0.0.1:${port}`]);
  const app = await startHttpEcho('reviews');
  const clientApp = await startHttpEcho('productpage');
  apps.push(app, clientApp);
  [, client] = await Promise.all([
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
  - match: [{uri: {prefix: /fail}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`);
  await eventually(async () => {
    assert.equal(await call('/fail'), 503);
    assert.equal(await call('/'), 200);
  }, 60_000);
  const api = new URL(mesh.server);
  prometheus = await startPrometheus(`${mesh.server}/api/v1/prometheus/targets`, api.host, port);
  const p = prometheus;
  await eventually(
    async () => assert.equal((await p.query('up{job="weft-proxies"} == 1')).length, 2),
    60_000,
    500,
  );
});

after(async () => {
  await prometheus?.stop();
  await mesh?.stop();
  for (const a of apps) await a.close();
});

test('stat and edges come from PromQL over Prometheus and count what was sent after it scraped', async () => {
  const status = (await (await fetch(`${mesh.server}/api/v1/telemetry/status`)).json()) as { source: string };
  assert.equal(status.source, 'prometheus');
  // Prometheus has scraped both proxies at least once: what is sent from now on is growth it sees.
  // The baseline waits until the query sees the before hook's requests (at least one /fail and one
  // /, all sent before Prometheus started, so in its first scrape): a range query whose last step
  // falls before that scrape sees no series yet, and they would later count in full.
  let base = { requests: 0, successRate: 0 };
  await eventually(
    async () => {
      const [row] = (
        await json<{ rows: { requests: number; successRate: number }[] }>(
          'stat',
          'svc',
          'reviews',
          '--window',
          '2m',
        )
      ).rows;
      assert.ok(
        row !== undefined && row.requests >= 2,
        `the baseline sees the before hook's requests: ${JSON.stringify(row)}`,
      );
      base = row;
    },
    60_000,
    500,
  );
  const baseRequests = base.requests;
  const baseOk = Math.round(base.requests * base.successRate);
  for (let i = 0; i < 10; i++) assert.equal(await call(`/ok/${i}`), 200);
  for (let i = 0; i < 4; i++) assert.equal(await call('/fail'), 503);
  await eventually(
    async () => {
      const [row] = (
        await json<{ rows: { requests: number; successRate: number }[] }>(
          'stat',
          'svc',
          'reviews',
          '--window',
          '2m',
        )
      ).rows;
      assert.equal(row?.requests, baseRequests + 14);
      assert.equal(Math.round(row.requests * row.successRate), baseOk + 10);
    },
    30_000,
    500,
  );
  const { edges } = await json<{
    edges: { source: { workload: string }; destination: { name: string }; mtls: boolean }[];
  }>('edges', '--window', '2m');
  const edge = edges.find((e) => e.source.workload === 'productpage' && e.destination.name === 'reviews');
  assert.equal(edge?.mtls, true, JSON.stringify(edges));
});
