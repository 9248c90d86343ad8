// End to end: proxyless gRPC mTLS (gRFC A29) and RBAC (A41) with C-core (Debian's python3-grpcio) next to @grpc/grpc-js-xds, under `weft proxyless`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  afterRotation,
  CLIENT_APPS,
  currentCertificate,
  GRPC_ENV,
  grpcioVersion,
  SERVER_APPS,
  strictMesh,
  untilAnswered,
  withAgent,
} from '../helpers/grpc-xds-mtls.ts';
import { apply, GreeterClient, startMeshControlPlane, TARGET } from '../helpers/grpc-xds-scenario.ts';
import { startWeft } from '../helpers/process.ts';
import { freePort } from '../helpers/prometheus.ts';

function agentClient(api: string, serviceAccount: string, app: string[]): GreeterClient {
  return new GreeterClient({
    command: process.execPath,
    args: withAgent(api, serviceAccount, app),
    env: { ...process.env, ...GRPC_ENV },
  });
}

test('C-core and grpc-js proxyless apps call each other over mTLS under STRICT; the C-core server allows only the SPIFFE identity its AuthorizationPolicy names', async (t) => {
  const version = grpcioVersion();
  // Certificates live 20 s, so the C-core server's rotation is seen within the test.
  const { dir, api } = await startMeshControlPlane(t, 'weft-grpc-py-mtls-', ['--cert-ttl', '20s']);
  const [pyPort, jsPort] = [await freePort(), await freePort()];
  await apply(api, dir, 'mesh', strictMesh(pyPort, jsPort));
  const pyDir = join(dir, 'py-server');
  for (const [app, port, extra] of [
    [SERVER_APPS.py, pyPort, ['--dir', pyDir]],
    [SERVER_APPS.js, jsPort, []],
  ] as const) {
    const server = await startWeft(
      withAgent(api, 'greeter', app(`127.0.0.1:${port}`), [
        '--label',
        'app=greeter',
        '--refresh-interval',
        '1s',
        ...extra,
      ]).slice(1),
      { ready: /^serving \d+$/, env: GRPC_ENV },
    );
    t.after(() => server.stop());
  }
  const first = await currentCertificate(pyDir);

  // Each client reaches both servers (round robin over the two endpoints), every call over mTLS.
  // (Until both servers have their listener and both connections are up: then every call is answered.)
  const both = (c: Record<string, number>) =>
    c['py-server'] > 0 && c['xds-server'] > 0 && c['py-server'] + c['xds-server'] === 40;
  const py = agentClient(api, 'client', CLIENT_APPS.py(TARGET));
  t.after(() => py.close());
  const pyCounts = await untilAnswered(py, 40, both);
  assert.ok(
    pyCounts['py-server'] > 0 && pyCounts['xds-server'] > 0,
    `grpcio ${version}: ${JSON.stringify(pyCounts)}`,
  );
  const js = agentClient(api, 'client', CLIENT_APPS.js(TARGET));
  t.after(() => js.close());
  const jsCounts = await untilAnswered(js, 40, both);
  assert.ok(jsCounts['py-server'] > 0 && jsCounts['xds-server'] > 0, JSON.stringify(jsCounts));

  // Both servers read the caller's identity from its certificate: another one is denied (7).
  const intruder = agentClient(api, 'intruder', CLIENT_APPS.py(TARGET));
  t.after(() => intruder.close());
  assert.deepEqual(await intruder.run(20), { 'error:7': 20 });

  // STRICT: a plaintext C-core client gets no connection to the C-core server (UNAVAILABLE, 14).
  const plain = new GreeterClient({
    command: CLIENT_APPS.py(`127.0.0.1:${pyPort}`)[0],
    args: [...CLIENT_APPS.py(`127.0.0.1:${pyPort}`).slice(1), 'insecure'],
    env: { ...process.env, ...GRPC_ENV },
  });
  t.after(() => plain.close());
  assert.deepEqual(await plain.run(5), { 'error:14': 5 });

  // After the C-core server's first certificate expired, a new C-core client still gets through:
  // the server's file_watcher provider took the rotated files.
  await afterRotation(pyDir, first);
  const later = agentClient(api, 'client', CLIENT_APPS.py(TARGET));
  t.after(() => later.close());
  await untilAnswered(later, 40, both);
});

const DENY_BLOCKED = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: greeter-deny, namespace: default}
spec:
  selector: {matchLabels: {app: greeter}}
  action: DENY
  rules:
  - to: [{operation: {paths: [/helloworld.Greeter/SayHello]}}]
    when: [{key: 'request.headers[x-user]', values: [blocked]}]
`;

test('a C-core proxyless server enforces a DENY AuthorizationPolicy on request headers (plaintext, no PeerAuthentication)', async (t) => {
  grpcioVersion();
  const { dir, api } = await startMeshControlPlane(t, 'weft-grpc-py-rbac-');
  await apply(api, dir, 'deny', DENY_BLOCKED);
  const port = await freePort();
  const server = await startWeft(
    withAgent(api, 'greeter', SERVER_APPS.py(`127.0.0.1:${port}`), ['--label', 'app=greeter']).slice(1),
    { ready: /^serving \d+$/, env: GRPC_ENV },
  );
  t.after(() => server.stop());
  // A plain (non-xDS) client: the server alone enforces the policy.
  const [command, ...args] = CLIENT_APPS.py(`127.0.0.1:${port}`);
  const client = new GreeterClient({
    command,
    args: [...args, 'insecure'],
    env: { ...process.env, ...GRPC_ENV },
  });
  t.after(() => client.close());
  await untilAnswered(client, 10, (c) => c['py-server'] === 10);
  assert.deepEqual(await client.run(20, { 'x-user': 'someone' }), { 'py-server': 20 });
  assert.deepEqual(await client.run(20, { 'x-user': 'blocked' }), { 'error:7': 20 });
});
