// End to end: 30-second certificates rotating under steady mesh load, with no failed request.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { type Mesh, type MeshSidecar, metric, metricLabels, startMesh } from './mtls-mesh.ts';

/** Load: requests per second through a → b, and for how long (≥ 2 rotations of 30 s certificates). */
const RATE = 80;
const DURATION_MS = 65_000;

let mesh: Mesh;
let apps: Echo[] = [];
let a: MeshSidecar;
let b: MeshSidecar;

before(async () => {
  mesh = await startMesh(['--cert-ttl', '30s']);
  apps = [await startHttpEcho('b'), await startHttpEcho('a')];
  [b, a] = await Promise.all([
    mesh.sidecar(['--service', 'b', '--app-port', String(apps[0].port)]),
    mesh.sidecar(['--service', 'a', '--app-port', String(apps[1].port)]),
  ]);
  // Short-lived upstream connections, so that new mTLS handshakes keep happening across rotations
  // (with long-lived ones only the first handshake would be tested).
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: b, namespace: default }
spec:
  host: b.default.svc.cluster.local
  trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 20 } } }
`);
});

after(async () => {
  await mesh?.stop();
  for (const app of apps) await app.close();
});

/** The serial of a proxy's workload certificate, from its admin port. */
async function serial(adminPort: number): Promise<string> {
  const label = (await metricLabels(adminPort, 'weft_cert_info')).find((l) => l.includes('"default"'));
  return /serial="([0-9A-F]+)"/.exec(label ?? '')?.[1] ?? '';
}

test('a minute of steady load through certificate rotations fails no request', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const call = () =>
    new Promise<string>((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: a.outbound, path: '/', headers: { host: 'b' }, agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
          res.on('error', (err: NodeJS.ErrnoException) => resolve(`response error ${err.code}`));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`request error ${err.code}`));
    });
  await eventuallyTrue('a reaches b', async () => (await call()) === '200');
  const handshakesBefore = await metric(b.admin, 'envoy_listener_ssl_handshake', `_${b.inbound}"`);
  const serials = { a: new Set([await serial(a.admin)]), b: new Set([await serial(b.admin)]) };
  const outcomes = new Map<string, number>();
  const inflight = new Set<Promise<void>>();
  const started = Date.now();
  let sent = 0;
  let nextSample = started;
  while (Date.now() - started < DURATION_MS) {
    // Open loop: requests leave on schedule whether or not earlier ones have answered.
    const due = Math.floor(((Date.now() - started) * RATE) / 1000);
    for (; sent < due; sent++) {
      const p = call().then((outcome) => {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        inflight.delete(p);
      });
      inflight.add(p);
    }
    if (Date.now() >= nextSample) {
      nextSample += 2000;
      serials.a.add(await serial(a.admin));
      serials.b.add(await serial(b.admin));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inflight);
  agent.destroy();
  serials.a.add(await serial(a.admin));
  serials.b.add(await serial(b.admin));
  const handshakes =
    (await metric(b.admin, 'envoy_listener_ssl_handshake', `_${b.inbound}"`)) - handshakesBefore;
  const summary = JSON.stringify({
    outcomes: Object.fromEntries(outcomes),
    serials: { a: [...serials.a], b: [...serials.b] },
    handshakes,
  });
  assert.deepEqual([...outcomes.keys()], ['200'], summary);
  assert.ok(sent >= (RATE * DURATION_MS) / 1000 - RATE, summary);
  // 30 s certificates renew at about half their life: at least two rotations on each side.
  assert.ok(serials.a.size >= 3 && serials.b.size >= 3, summary);
  // Connections were re-made throughout (20 requests each), so later handshakes used later certificates.
  assert.ok(handshakes >= sent / 40, summary);
  t.diagnostic(`sent ${sent}; ${summary}`);
});
