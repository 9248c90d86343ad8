// Egress from a sidecar: ALLOW_ANY passthrough, REGISTRY_ONLY (MeshConfig) refusing with 502, ServiceEntry (DNS and STATIC), and an egress gateway.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pickFreePorts } from '../../src/run/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;
const GATEWAY_READY = /weft gateway ready: .* admin 127\.0\.0\.1:(\d+)/;

let dir: string;
let server: string;
const procs: WeftProcess[] = [];
/** The "external" service: a plain server on loopback, not in the mesh. */
let external: Echo;
let client: Echo;
/** The client sidecar's outbound port: the app's HTTP proxy. */
let outbound: number;
let egressAdmin: number;
let egressPort: number;

async function apply(yaml: string, action: 'apply' | 'delete' = 'apply'): Promise<void> {
  const file = join(dir, `r-${Date.now()}-${Math.random()}.yaml`);
  await writeFile(file, yaml);
  const r = await runCli([action, '-f', file, '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

/** A request the way an app behind HTTP_PROXY sends it: absolute-form to the sidecar's outbound port. */
function viaProxy(url: string, headers: Record<string, string> = {}) {
  const target = new URL(url);
  return request(outbound, { host: target.host, path: url, headers });
}

/** `CONNECT host:port` through the sidecar, then one HTTP/1.1 request inside the tunnel. */
function viaConnect(authority: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: outbound,
      method: 'CONNECT',
      path: authority,
      agent: false,
    });
    req.on('connect', (res, socket: net.Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return resolve({ status: res.statusCode ?? 0, body: '' });
      }
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve({ status: 200, body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
      socket.write(`GET /tunnelled HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-egress-'));
  const cp = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
    ],
    { ready: CP_READY },
  );
  procs.push(cp);
  server = cp.ready[1];
  [external, client] = await Promise.all([startHttpEcho('external'), startHttpEcho('client')]);
  [egressPort] = await pickFreePorts(1);
  const [sidecar, egress] = await Promise.all([
    startWeft(
      ['proxy', '--server', server, '--service', 'client', '--app-port', String(client.port)].concat([
        '--inbound-port',
        '0',
        '--outbound-port',
        '0',
        '--admin-port',
        '0',
      ]),
      { ready: PROXY_READY, timeoutMs: 60_000 },
    ),
    startWeft(
      [
        'gateway',
        '--name',
        'istio-egressgateway',
        '--namespace',
        'istio-system',
        '--label',
        'istio=egressgateway',
        '--port',
        `80=${egressPort}`,
        '--server',
        server,
      ],
      { ready: GATEWAY_READY, timeoutMs: 60_000 },
    ),
  ]);
  procs.push(sidecar, egress);
  outbound = Number(sidecar.ready[1]);
  egressAdmin = Number(egress.ready[1]);
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  await Promise.all([external?.close(), client?.close()]);
  await rm(dir, { recursive: true, force: true });
});

test('ALLOW_ANY (the default): a host that is no service is reached at the address the request names', async () => {
  await eventually(async () => {
    const r = await viaProxy(`http://127.0.0.1:${external.port}/plain?x=1`);
    assert.equal(r.status, 200);
    assert.equal(r.json?.name, 'external');
    assert.equal(r.json?.url, '/plain?x=1');
  });
  // By name (resolved by the sidecar, as an HTTP proxy does), and through a CONNECT tunnel.
  assert.equal((await viaProxy(`http://localhost:${external.port}/`)).json?.name, 'external');
  const tunnel = await viaConnect(`127.0.0.1:${external.port}`);
  assert.equal(tunnel.status, 200);
  assert.match(tunnel.body, /"name":"external".*"url":"\/tunnelled"/);
});

test('REGISTRY_ONLY (MeshConfig): unknown hosts get 502; a ServiceEntry (resolution DNS) lets one through', async () => {
  await apply(`apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
  await eventually(async () => {
    const r = await viaProxy(`http://127.0.0.1:${external.port}/`);
    assert.equal(r.status, 502);
    assert.match(r.body.toString(), /REGISTRY_ONLY/);
  });
  assert.equal((await viaConnect(`127.0.0.1:${external.port}`)).status, 502);

  // MESH_EXTERNAL, resolution DNS: the sidecar resolves the endpoint's name (localhost) itself.
  await apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-dns}
spec:
  hosts: [api.external.test]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: ${external.port}, name: http, protocol: HTTP}]
  endpoints: [{address: localhost}]
`);
  await eventually(async () => {
    const r = await viaProxy(`http://api.external.test:${external.port}/dns`);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.json?.name, 'external');
    assert.equal(r.json?.host, `api.external.test:${external.port}`);
  });
  // Everything else is still refused.
  assert.equal((await viaProxy(`http://127.0.0.1:${external.port}/`)).status, 502);

  // resolution STATIC with an IP endpoint works the same way.
  await apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-static}
spec:
  hosts: [static.external.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${external.port}, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
`);
  await eventually(async () => {
    assert.equal((await viaProxy(`http://static.external.test:${external.port}/`)).json?.name, 'external');
  });
});

test('an egress gateway: mesh traffic for an external host goes through istio-egressgateway (Istio pattern)', async () => {
  await apply(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [api.external.test]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external-through-egress}
spec:
  hosts: [api.external.test]
  gateways: [istio-system/istio-egressgateway, mesh]
  http:
  - match: [{gateways: [mesh], port: ${external.port}}]
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}
  - match: [{gateways: [istio-system/istio-egressgateway], port: 80}]
    headers: {request: {set: {x-egress: istio-egressgateway}}}
    route:
    - destination: {host: api.external.test, port: {number: ${external.port}}}
`);
  await eventually(async () => {
    const r = await viaProxy(`http://api.external.test:${external.port}/out`);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.json?.name, 'external');
    assert.equal(
      (r.json?.headers as Record<string, string> | undefined)?.['x-egress'],
      'istio-egressgateway',
    );
  });
  // The gateway's own stats count the request to the external cluster.
  const stats = await request(egressAdmin, { host: '127.0.0.1', path: '/stats/prometheus' });
  assert.match(
    stats.body.toString(),
    new RegExp(
      `envoy_cluster_upstream_rq_total\\{envoy_cluster_name="outbound\\|${external.port}\\|\\|api\\.external\\.test"\\} [1-9]`,
    ),
  );
});
