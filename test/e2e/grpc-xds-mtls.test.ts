// End to end: proxyless gRPC mTLS (gRFC A29) with @grpc/grpc-js-xds: `weft proxyless` agents, PeerAuthentication STRICT, SPIFFE principals, rotation.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import {
  afterRotation,
  CLIENT_APPS,
  currentCertificate,
  GRPC_ENV,
  grpcioVersion,
  strictMesh,
  untilAnswered,
  withAgent,
} from '../helpers/grpc-xds-mtls.ts';
import { apply, GreeterClient, startMeshControlPlane, TARGET } from '../helpers/grpc-xds-scenario.ts';
import { startWeft } from '../helpers/process.ts';
import { freePort } from '../helpers/prometheus.ts';

const SERVER = fileURLToPath(new URL('../helpers/grpc-xds-server-child.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('../helpers/grpc-xds-client-child.ts', import.meta.url));

const CLIENT_ENV = { ...process.env, WEFT_LOG_LEVEL: 'warn', GRPC_VERBOSITY: 'ERROR' };

function agentClient(api: string, serviceAccount: string): GreeterClient {
  return new GreeterClient({
    command: process.execPath,
    args: withAgent(api, serviceAccount, [process.execPath, CLIENT, TARGET], ['--refresh-interval', '1s']),
    env: CLIENT_ENV,
  });
}

test('proxyless mTLS: a client with the allowed SPIFFE identity is served, another identity is denied, plaintext is refused, and rotated certificates keep serving', async (t) => {
  const { dir, api } = await startMeshControlPlane(t, 'weft-grpc-mtls-', ['--cert-ttl', '20s']);
  const port = await freePort();
  await apply(api, dir, 'mesh', strictMesh(port));
  const serverDir = await mkdtemp(join(tmpdir(), 'weft-grpc-mtls-server-'));
  t.after(() => rm(serverDir, { recursive: true, force: true }));
  const server = await startWeft(
    withAgent(
      api,
      'greeter',
      [process.execPath, SERVER, `127.0.0.1:${port}`],
      ['--label', 'app=greeter', '--dir', serverDir, '--refresh-interval', '1s'],
    ).slice(1),
    // grpc-js-xds 1.14 accepts RBAC filters only with GRPC_XDS_EXPERIMENTAL_RBAC.
    { ready: /^serving \d+$/, env: { GRPC_XDS_EXPERIMENTAL_RBAC: 'true', GRPC_VERBOSITY: 'ERROR' } },
  );
  t.after(() => server.stop());
  const first = await currentCertificate(serverDir);
  assert.equal(first.san, 'URI:spiffe://cluster.local/ns/default/sa/greeter');

  const allowed = agentClient(api, 'client');
  t.after(() => allowed.close());
  assert.deepEqual(await allowed.run(20), { 'xds-server': 20 });

  // The server read the caller's SPIFFE ID from its certificate: RBAC denies another identity (7).
  const intruder = agentClient(api, 'intruder');
  t.after(() => intruder.close());
  assert.deepEqual(await intruder.run(10), { 'error:7': 10 });

  // STRICT: a plaintext client gets no connection (UNAVAILABLE, 14).
  const plain = new GreeterClient({
    command: process.execPath,
    args: [CLIENT, `127.0.0.1:${port}`, 'insecure'],
    env: CLIENT_ENV,
  });
  t.after(() => plain.close());
  assert.deepEqual(await plain.run(5), { 'error:14': 5 });

  // Rotation: the agent replaces the server's files before the first certificate expires; a
  // client started after that expiry handshakes with the server's new certificate.
  const now = await afterRotation(serverDir, first);
  assert.equal(now.san, first.san);
  const later = agentClient(api, 'client');
  t.after(() => later.close());
  assert.deepEqual(await later.run(10), { 'xds-server': 10 });
  assert.deepEqual(await allowed.run(10), { 'xds-server': 10 });
});

const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: STRICT}
`;

test('proxyless grpc-js and C-core clients call a weft sidecar under STRICT over mTLS, with their SPIFFE identity', async (t) => {
  grpcioVersion();
  const { dir, api } = await startMeshControlPlane(t, 'weft-grpc-mtls-sidecar-');
  await apply(api, dir, 'strict', STRICT);
  const app = await startGreeter('sidecar-app');
  t.after(() => app.close());
  const proxy = await startWeft(
    [
      'proxy',
      '--server',
      api,
      '--service',
      'greeter',
      '--app-port',
      String(app.port),
      '--service-port',
      '50051',
    ].concat(['--protocol', 'grpc', '--inbound-port', '0', '--outbound-port', '0', '--admin-port', '0']),
    { ready: /weft proxy ready: .* admin 127\.0\.0\.1:(\d+)/, timeoutMs: 60_000 },
  );
  t.after(() => proxy.stop());
  for (const kind of ['js', 'py'] as const) {
    const client = new GreeterClient({
      command: process.execPath,
      args: withAgent(api, 'client', CLIENT_APPS[kind](TARGET)),
      env: { ...process.env, ...GRPC_ENV },
    });
    t.after(() => client.close());
    assert.deepEqual(await untilAnswered(client, 10, (c) => c['sidecar-app'] === 10), { 'sidecar-app': 10 });
  }
  // The sidecar's inbound side saw mutual TLS from the clients' identity (Istio's request metric).
  const metrics = await (await fetch(`http://127.0.0.1:${proxy.ready[1]}/stats/prometheus`)).text();
  const line = metrics
    .split('\n')
    .find(
      (l) =>
        l.startsWith('istio_requests_total{reporter="destination"') && l.includes('grpc_response_status="0"'),
    );
  assert.match(line ?? '', /source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/client"/);
  assert.match(line ?? '', /connection_security_policy="mutual_tls"/);
  assert.ok(Number(line?.split(' ').at(-1)) >= 20, `both clients' calls are counted: ${line}`);
});
