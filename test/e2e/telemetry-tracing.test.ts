// Distributed tracing through two real sidecars: OpenTelemetry-instrumented apps and both sidecars in one trace at an OTLP collector; 0 % sampling; a dead collector.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Collector, startCollector } from '../helpers/otlp-collector.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

const APP = fileURLToPath(new URL('../helpers/otel-app.ts', import.meta.url));

let mesh: Mesh;
let collector: Collector;
const children: ChildProcess[] = [];
let frontendPort: number;
let frontendSidecar: MeshSidecar;

/** Starts the instrumented app; resolves with its port (bounded: the SDK loads in a few seconds). */
function startApp(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [APP, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app ${args[0]} did not start within 30 s`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      const m = /listening (\d+)/.exec(c.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`app ${args[0]} exited with ${code}`)));
  });
}

function tracingConfig(port: number, percent: number): string {
  return `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  extensionProviders:
  - name: otel
    opentelemetry: {service: 127.0.0.1, port: ${port}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: otel}], randomSamplingPercentage: ${percent}}]
`;
}

before(async () => {
  collector = await startCollector();
  mesh = await startMesh();
  await mesh.apply(tracingConfig(collector.port, 100));
  const collectorUrl = `http://127.0.0.1:${collector.port}/v1/traces`;
  const backend = await startApp(['backend', collectorUrl]);
  await mesh.sidecar(['--service', 'backend', '--app-port', String(backend), '--service-port', '8080']);
  // The frontend's own inbound is not used: the test calls the app directly, which calls backend through its sidecar.
  frontendSidecar = await mesh.sidecar(['--service', 'frontend', '--app-port', '9']);
  frontendPort = await startApp(['frontend', collectorUrl, String(frontendSidecar.outbound), 'backend:8080']);
  await eventually(async () => {
    const r = await request(frontendPort, { path: '/warm' });
    assert.equal(r.body.toString(), 'frontend -> backend');
  }, 60_000);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await mesh?.stop();
  await collector?.close();
});

test('one trace: the app spans and both sidecar spans link parent to child', async () => {
  const r = await request(frontendPort, { path: '/traced' });
  assert.equal(r.body.toString(), 'frontend -> backend');
  let chain: string[] = [];
  await eventually(
    async () => {
      const root = collector.spans.find((s) => s.name === 'frontend handles /traced');
      assert.ok(root, 'the frontend app exported its server span');
      const trace = collector.spans.filter((s) => s.traceId === root.traceId);
      const byParent = new Map(trace.map((s) => [s.parentSpanId, s]));
      chain = [];
      for (let s = byParent.get(root.spanId); s; s = byParent.get(s.spanId))
        chain.push(`${s.service || 'app'}:${s.kind}:${s.name}`);
      assert.equal(chain.length, 4, `chain under the root: ${chain.join(' | ')}`);
    },
    30_000,
    200,
  );
  assert.match(chain[0], /frontend calls backend:8080/);
  assert.match(chain[1], /^frontend\.default:3:backend:8080\/$/, 'the client sidecar: a CLIENT span');
  assert.match(chain[2], /^backend\.default:2:backend:8080\/$/, 'the server sidecar: a SERVER span');
  assert.match(chain[3], /backend handles \//);
  const serverSpan = collector.spans.find(
    (s) => s.service === 'backend.default' && s.name === 'backend:8080/',
  );
  assert.equal(serverSpan?.attributes['http.status_code'], 200);
  assert.equal(serverSpan?.attributes['istio.canonical_service'], 'backend');
  assert.match(String(serverSpan?.attributes.upstream_cluster), /^inbound\|8080\|\|$/);
});

test('at 0 % sampling a request without a trace exports no span at all', async () => {
  await mesh.apply(tracingConfig(collector.port, 0));
  // Wait until the sidecars have the new sampling: a marker request stops producing spans.
  await eventually(
    async () => {
      const before = collector.spans.length;
      const r = await request(frontendSidecar.outbound, { host: 'backend:8080', path: '/zero' });
      assert.equal(r.status, 200);
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal(collector.spans.length, before, 'no span after the request');
    },
    60_000,
    100,
  );
});

test('a dead collector changes no outcome', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const dead = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await mesh.apply(tracingConfig(dead, 100));
  // A new connection per request: the new tracing config changes the listener, which closes
  // kept-alive idle connections, and a client reusing one at that instant races the close (as with
  // any HTTP/1.1 server); the collector is the point here.
  const agent = new http.Agent({ keepAlive: false });
  for (let i = 0; i < 30; i++) {
    const r = await request(frontendSidecar.outbound, { host: 'backend:8080', path: `/dead/${i}`, agent });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'backend');
  }
});
