// Policies applied and removed while callers keep calling: every request gets an answer (a drained
// connection once left a pooled upstream connection paused, and the next request on it hung).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let app: Echo;
let a: MeshSidecar;
let c: MeshSidecar;

before(async () => {
  mesh = await startMesh();
  app = await startHttpEcho('b');
  [, a, c] = await Promise.all([
    mesh.sidecar(['--service', 'b', '--app-port', String(app.port)]),
    mesh.sidecar(['--service', 'a', '--app-port', String(app.port)]),
    mesh.sidecar(['--service', 'c', '--app-port', String(app.port)]),
  ]);
  await eventuallyTrue('a and c reach b', async () => (await call(a)) === 200 && (await call(c)) === 200);
});

after(async () => {
  await mesh?.stop();
  await app?.close();
});

/** A request to http://b/ through a caller's sidecar; a request with no answer in 15 s fails the test. */
async function call(from: MeshSidecar, method = 'GET'): Promise<number> {
  return (await request(from.outbound, { host: 'b', path: '/', method, timeoutMs: 15_000 })).status;
}

const ALLOW_C_GET = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-c, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/c"] } }]
      to: [{ operation: { methods: ["GET"] } }]
`;

test('ten rounds of apply and delete under traffic: each request is answered, with the status the policy says', async () => {
  for (let round = 0; round < 10; round++) {
    await mesh.apply(ALLOW_C_GET);
    await eventuallyTrue(`round ${round}: a is denied`, async () => (await call(a)) === 403);
    assert.equal(await call(c), 200);
    assert.equal(await call(c, 'DELETE'), 403);
    const r = await runCli([
      'delete',
      'authorizationpolicy',
      'allow-c',
      '-n',
      'default',
      '--server',
      mesh.server,
    ]);
    assert.equal(r.code, 0, r.stderr);
    await eventuallyTrue(`round ${round}: a is allowed again`, async () => (await call(a)) === 200);
  }
});
