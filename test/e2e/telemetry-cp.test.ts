// Real control plane and sidecars: Prometheus service discovery lists every proxy, /metrics counts pushes and signings, istio_tcp_* over mTLS.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { type Echo, startHttpEcho, startTcpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Prometheus, startPrometheus } from '../helpers/prometheus.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let apiPort: number;
const apps: Echo[] = [];
let client: MeshSidecar;
let db: MeshSidecar;
let prometheus: Prometheus | undefined;

async function text(port: number, path: string): Promise<string> {
  const r = await request(port, { host: '127.0.0.1', path });
  assert.equal(r.status, 200, `GET ${path}`);
  return r.body.toString('utf8');
}

/** The value of the sample whose line contains every fragment, or undefined. */
function sample(body: string, name: string, ...fragments: string[]): number | undefined {
  const line = body
    .split('\n')
    .find(
      (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && fragments.every((f) => l.includes(f)),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** CONNECT db:5432 through the client sidecar, send `data`, and return what the app echoed. */
function tcpThroughMesh(data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(client.outbound, '127.0.0.1', () =>
      s.write('CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\n\r\n'),
    );
    let got = '';
    let sent = false;
    s.on('data', (c) => {
      got += c;
      if (!sent && got.includes('\r\n\r\n')) {
        sent = true;
        s.end(data);
      }
    });
    s.on('end', () => resolve(got.slice(got.indexOf('\r\n\r\n') + 4)));
    s.on('error', reject);
  });
}

before(async () => {
  mesh = await startMesh();
  apiPort = Number(new URL(mesh.server).port);
  const dbApp = await startTcpEcho('db');
  const clientApp = await startHttpEcho('client');
  apps.push(dbApp, clientApp);
  [db, client] = await Promise.all([
    mesh.sidecar([
      '--service',
      'db',
      '--version',
      'v3',
      '--app-port',
      String(dbApp.port),
      '--service-port',
      '5432',
      '--protocol',
      'tcp',
    ]),
    mesh.sidecar(['--service', 'client', '--app-port', String(clientApp.port)]),
  ]);
});

after(async () => {
  await prometheus?.stop();
  await mesh?.stop();
  for (const a of apps) await a.close();
});

test('GET /api/v1/prometheus/targets lists each proxy admin endpoint with its workload labels', async () => {
  let groups: { targets: string[]; labels: Record<string, string> }[] = [];
  await eventually(async () => {
    groups = JSON.parse(await text(apiPort, '/api/v1/prometheus/targets'));
    assert.equal(groups.length, 2);
  });
  const byApp = new Map(groups.map((g) => [g.labels.app, g]));
  assert.deepEqual(byApp.get('db')?.targets, [`127.0.0.1:${db.admin}`]);
  assert.deepEqual(byApp.get('client')?.targets, [`127.0.0.1:${client.admin}`]);
  assert.equal(byApp.get('db')?.labels.version, 'v3');
  assert.equal(byApp.get('db')?.labels.namespace, 'default');
  assert.equal(byApp.get('db')?.labels.__metrics_path__, '/stats/prometheus');
});

test("the control plane's /metrics: connected proxies, pushes by type, signed certificates", async () => {
  await eventually(async () => {
    const body = await text(apiPort, '/metrics');
    assert.equal(sample(body, 'pilot_xds'), 2);
    assert.ok((sample(body, 'pilot_xds_pushes', 'type="cds"') ?? 0) >= 2, 'cds pushes');
    assert.ok((sample(body, 'pilot_xds_pushes', 'type="lds"') ?? 0) >= 2, 'lds pushes');
    assert.equal(sample(body, 'citadel_server_success_cert_issuance_count'), 2);
    assert.equal(sample(body, 'citadel_server_csr_count'), 2);
    assert.ok((sample(body, 'pilot_services') ?? 0) >= 2);
    assert.ok((sample(body, 'pilot_proxy_convergence_time_count') ?? 0) >= 1);
    assert.match(body, /# TYPE pilot_xds_push_time histogram/);
  });
});

test('TCP through two sidecars counts at the destination sidecar with the mTLS-verified source principal', async () => {
  await eventually(async () => {
    assert.equal(await tcpThroughMesh('ping'), 'db: ping');
  });
  const dest = [
    'reporter="destination"',
    'source_principal="spiffe://cluster.local/ns/default/sa/client"',
    'destination_workload="db"',
    'destination_version="v3"',
    'destination_service="db.default.svc.cluster.local"',
    'connection_security_policy="mutual_tls"',
  ];
  await eventually(async () => {
    const body = await text(db.admin, '/stats/prometheus');
    assert.ok((sample(body, 'istio_tcp_connections_closed_total', ...dest) ?? 0) >= 1, body);
    assert.ok((sample(body, 'istio_tcp_received_bytes_total', ...dest) ?? 0) >= 4);
    assert.ok((sample(body, 'istio_tcp_sent_bytes_total', ...dest) ?? 0) >= 8);
  });
});

test("Debian's prometheus finds the proxies through weft's service discovery and PromQL counts what was sent", async () => {
  prometheus = await startPrometheus(`${mesh.server}/api/v1/prometheus/targets`, `127.0.0.1:${apiPort}`);
  const p = prometheus;
  const before = await text(db.admin, '/stats/prometheus');
  const already = sample(before, 'istio_tcp_connections_closed_total', 'reporter="destination"') ?? 0;
  for (let i = 0; i < 5; i++) assert.equal(await tcpThroughMesh(`n${i}`), `db: n${i}`);
  const query =
    'sum by (source_workload_namespace, connection_security_policy) ' +
    '(istio_tcp_connections_closed_total{reporter="destination",destination_service_name="db"})';
  await eventually(
    async () => {
      const up = await p.query('up{job="weft-proxies"} == 1');
      assert.deepEqual(up.map((r) => r.metric.app).sort(), ['client', 'db']);
      const closed = await p.query(query);
      assert.equal(closed.length, 1, JSON.stringify(closed));
      assert.deepEqual(closed[0].metric, {
        source_workload_namespace: 'default',
        connection_security_policy: 'mutual_tls',
      });
      assert.equal(closed[0].value, already + 5);
      const proxies = await p.query('pilot_xds{job="weft-control-plane"}');
      assert.equal(proxies[0]?.value, 2);
    },
    60_000,
    500,
  );
});
