// weft stat, edges, top, tap and proxy-config against a real control plane and sidecars with known traffic (some failing by fault abort).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { runCli, WEFT_BIN } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
const apps: Echo[] = [];
let client: MeshSidecar;

async function call(path: string, headers: Record<string, string> = {}): Promise<number> {
  return (await request(client.outbound, { host: 'reviews:9080', path, headers })).status;
}

async function cli(...args: string[]): Promise<string> {
  const r = await runCli([...args, '--server', mesh.server], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `weft ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function json<T>(...args: string[]): Promise<T> {
  return JSON.parse(await cli(...args, '-o', 'json')) as T;
}

async function api<T>(path: string): Promise<T> {
  const r = await request(Number(new URL(mesh.server).port), { path });
  assert.equal(r.status, 200, `GET ${path}: ${r.body}`);
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** Waits until the scraper closed `n` more intervals (everything sent before is then in the history). */
async function scraped(n = 2): Promise<void> {
  const start = (await api<{ intervals: number }>('/api/v1/telemetry/status')).intervals;
  await eventually(async () => {
    const now = (await api<{ intervals: number }>('/api/v1/telemetry/status')).intervals;
    assert.ok(now >= start + n, `scraper at ${now}, waiting for ${start + n}`);
  }, 20_000);
}

/** Runs `weft ...args` until it exits; `whileOpen` runs once it printed "tapping" on stderr. */
async function streaming(args: string[], whileOpen: () => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [WEFT_BIN, ...args, '--server', mesh.server], {
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await eventually(async () => assert.match(stderr, /tapping \d+ proxies/, 'the tap did not open'), 20_000);
    await whileOpen();
    const code = await exited;
    assert.equal(code, 0, `weft ${args.join(' ')} (killed after 30 s if it hangs): ${stdout}${stderr}`);
    return stdout;
  } finally {
    clearTimeout(kill);
    child.kill('SIGKILL');
  }
}

let sentOk = 0;
let sentFailed = 0;

before(async () => {
  mesh = await startMesh(['--telemetry-interval', '1s']);
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
});

after(async () => {
  await mesh?.stop();
  for (const a of apps) await a.close();
});

interface StatRows {
  rows: {
    name: string;
    namespace: string;
    requests: number;
    successRate: number;
    p50Ms: number | null;
    p99Ms: number | null;
  }[];
}

test('weft stat svc and edges count the requests sent, the aborted ones as failures, with mTLS between sidecars', async () => {
  await scraped();
  const before = (await json<StatRows>('stat', 'svc', 'reviews', '--window', '5m')).rows[0]?.requests ?? 0;
  const beforeOk = (await json<StatRows>('stat', 'svc', 'reviews', '--window', '5m')).rows[0];
  const okBefore = beforeOk ? Math.round(beforeOk.requests * (beforeOk.successRate ?? 0)) : 0;
  for (let i = 0; i < 20; i++) assert.equal(await call(`/ok/${i % 4}`), 200);
  for (let i = 0; i < 5; i++) assert.equal(await call('/fail'), 503);
  sentOk += 20;
  sentFailed += 5;
  await eventually(async () => {
    const [row] = (await json<StatRows>('stat', 'svc', 'reviews', '--window', '5m')).rows;
    assert.equal(row?.requests, before + 25);
    assert.equal(Math.round(row.requests * row.successRate), okBefore + 20);
    assert.ok(row.p50Ms !== null && row.p99Ms !== null && row.p99Ms >= row.p50Ms);
  }, 20_000);
  const table = await cli('stat', 'svc', '--window', '5m');
  assert.match(table, /^NAME\s+NAMESPACE\s+SUCCESS\s+RPS\s+P50\s+P95\s+P99\s+TCP_CONN/);
  assert.match(table, /\nreviews\s+default\s+\d+\.\d\d%/);
  for (const line of table.split('\n')) assert.ok(line.length <= 80, `over 80 columns: ${line}`);

  const deploy = await json<StatRows>('stat', 'deploy', '-n', 'default', '--window', '5m');
  const reviews = deploy.rows.find((r) => r.name === 'reviews');
  assert.ok(reviews, JSON.stringify(deploy));
  assert.equal(reviews.successRate, 1, 'aborted requests never reach the reviews workload');

  const { edges } = await json<{
    edges: {
      source: { workload: string; principal: string };
      destination: { name: string; principal: string };
      mtls: boolean;
      requests: number;
      versions: Record<string, number>;
    }[];
  }>('edges', '--window', '5m');
  const edge = edges.find((e) => e.source.workload === 'productpage' && e.destination.name === 'reviews');
  assert.ok(edge, JSON.stringify(edges));
  assert.equal(edge.mtls, true);
  assert.equal(edge.source.principal, 'spiffe://cluster.local/ns/default/sa/productpage');
  assert.equal(edge.destination.principal, 'spiffe://cluster.local/ns/default/sa/reviews');
  assert.equal(edge.requests, before + 25);
  assert.ok((edge.versions.v1 ?? 0) >= 20, JSON.stringify(edge.versions));
  const edgeTable = await cli('edges', '--window', '5m');
  assert.match(edgeTable, /productpage\s+reviews\s+default\/productpage\s+default\/reviews\s+yes/);
});

test('the service API: golden signals over time, workloads, the VirtualService that applies, and the proxies page data', async () => {
  const detail = await api<{
    summary: { requests: number };
    series: { t: number; rps: number }[];
    workloads: { workload: string; version: string }[];
    config: { virtualServices: { name: string }[] };
    observedSplit: Record<string, number>;
  }>('/api/v1/telemetry/services/default/reviews?window=5m');
  assert.ok(detail.series.length >= 2);
  assert.ok(detail.series.some((p) => p.rps > 0));
  assert.deepEqual(
    detail.workloads.map((w) => `${w.workload}/${w.version}`),
    ['reviews/v1'],
  );
  assert.deepEqual(
    detail.config.virtualServices.map((v) => v.name),
    ['reviews'],
  );
  assert.ok((detail.observedSplit.v1 ?? 0) >= sentOk);
  assert.ok((detail.observedSplit.unknown ?? 0) >= sentFailed, 'aborted requests reach no version');
  const { proxies } = await api<{
    proxies: {
      workload: string;
      sync: Record<string, string>;
      certificateExpiry: string;
      uptimeSeconds: number;
    }[];
  }>('/api/v1/telemetry/proxies');
  assert.deepEqual(proxies.map((p) => p.workload).sort(), ['productpage', 'reviews']);
  for (const p of proxies) {
    assert.equal(p.sync.CDS, 'SYNCED');
    assert.ok(Date.parse(p.certificateExpiry) > Date.now());
    assert.ok(p.uptimeSeconds >= 0);
  }
});

test('weft tap shows each request once per proxy, without query strings or headers', async () => {
  const out = await streaming(
    ['tap', 'reviews', '--path', '/tapped', '--max', '6', '-o', 'json'],
    async () => {
      for (let i = 0; i < 3; i++)
        assert.equal(
          await call(`/tapped/${i}?token=QUERYSECRET`, {
            authorization: 'Bearer HEADERSECRET',
            cookie: 'c=COOKIESECRET',
          }),
          200,
        );
    },
  );
  assert.doesNotMatch(out, /SECRET/);
  const records = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(records.length, 6);
  const outbound = records.filter((r) => r.reporter === 'source');
  assert.equal(outbound.length, 3);
  assert.deepEqual(outbound.map((r) => r.path).sort(), ['/tapped/0', '/tapped/1', '/tapped/2']);
  for (const r of outbound) {
    assert.equal(r.status, 200);
    assert.equal(r.method, 'GET');
    assert.equal(r.source.workload, 'productpage');
  }
  const inbound = records.filter((r) => r.reporter === 'destination');
  for (const r of inbound) {
    assert.equal(r.security, 'mutual_tls');
    assert.equal(r.source.principal, 'spiffe://cluster.local/ns/default/sa/productpage');
  }
});

test('weft top counts the busiest paths from tap', async () => {
  const out = await streaming(['top', '--path', '/top', '--duration', '4', '-o', 'json'], async () => {
    for (let i = 0; i < 4; i++) assert.equal(await call('/top/a'), 200);
    assert.equal(await call('/top/b'), 200);
  });
  const { rows } = JSON.parse(out) as {
    rows: { path: string; count: number; successRate: number; service: string }[];
  };
  assert.deepEqual(
    rows.map((r) => [r.path, r.count, r.successRate, r.service]),
    [
      ['/top/a', 4, 1, 'reviews'],
      ['/top/b', 1, 1, 'reviews'],
    ],
  );
});

test('weft proxy-config shows the clusters, routes, endpoints and secrets in force in a proxy', async () => {
  const clusters = await json<{ name: string }[]>('proxy-config', 'clusters', 'productpage');
  assert.ok(
    clusters.some((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local'),
    JSON.stringify(clusters.map((c) => c.name)),
  );
  const table = await cli('proxy-config', 'clusters', 'productpage');
  assert.match(table, /^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE/);
  assert.match(table, /reviews\.default\.svc\.cluster\.local\s+9080\s+-\s+OUTBOUND/);
  for (const line of table.split('\n')) assert.ok(line.length <= 80, `over 80 columns: ${line}`);
  const endpoints = await json<{ name: string; hostStatuses: unknown[] }[]>(
    'proxy-config',
    'endpoints',
    'productpage',
  );
  assert.equal(
    endpoints.find((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local')?.hostStatuses.length,
    1,
  );
  const routes = await cli('proxy-config', 'routes', 'productpage');
  assert.match(routes, /reviews/);
  const secret = await cli('proxy-config', 'secret', 'productpage');
  assert.match(secret, /Cert Chain/);
  const yaml = await cli('proxy-config', 'bootstrap', 'productpage', '-o', 'yaml');
  assert.match(yaml, /state: LIVE/);
  const missing = await runCli(['proxy-config', 'clusters', 'nosuchproxy', '--server', mesh.server]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /WEFT_NOT_FOUND|no connected proxy/);
});

test('the tap API speaks Server-Sent Events to a browser (Accept: text/event-stream)', async () => {
  const abort = AbortSignal.timeout(20_000);
  const response = await fetch(`${mesh.server}/api/v1/tap?service=reviews&path=/sse&max=2`, {
    headers: { accept: 'text/event-stream' },
    signal: abort,
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  assert.equal(response.headers.get('x-weft-tapped-proxies'), '2');
  assert.equal(await call('/sse/1'), 200);
  const text = await response.text();
  const events = text.split('\n\n').filter((e) => e !== '');
  assert.equal(events.length, 2, text);
  for (const e of events) assert.equal(JSON.parse(e.replace(/^data: /, '')).path, '/sse/1');
});
