// End to end: AuthorizationPolicy and RequestAuthentication on real mTLS traffic between sidecars (peer identities from certificates).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { epoch, jwks, makeKey, sign } from '../proxy/jwt-helpers.ts';
import { type Mesh, type MeshSidecar, metric, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let app: Echo;
let b: MeshSidecar;
/** Two callers with their own identities: service accounts a and c. */
let a: MeshSidecar;
let c: MeshSidecar;

before(async () => {
  mesh = await startMesh();
  app = await startHttpEcho('b');
  [b, a, c] = await Promise.all([
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

/** A request from a caller's app to http://b/ through the caller's sidecar; its status. */
async function call(from: MeshSidecar, headers: Record<string, string> = {}): Promise<number> {
  return (await request(from.outbound, { host: 'b', path: '/', headers })).status;
}

function policy(name: string, spec: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
${spec}`;
}

async function remove(kind: string, name: string): Promise<void> {
  const r = await runCli(['delete', kind, name, '-n', 'default', '--server', mesh.server]);
  assert.equal(r.code, 0, r.stderr);
}

test('DENY from a principal: 403 for that caller only', async () => {
  await mesh.apply(
    policy(
      'deny-a',
      `  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/a"] } }] }]
`,
    ),
  );
  await eventuallyTrue('a is denied', async () => (await call(a)) === 403);
  const denied = await request(a.outbound, { host: 'b', path: '/' });
  assert.equal(denied.body.toString(), 'RBAC: access denied');
  assert.equal(await call(c), 200);
  assert.ok((await metric(b.admin, 'envoy_http_rbac_denied')) >= 1);
  await remove('authorizationpolicy', 'deny-a');
  await eventuallyTrue('a is allowed again', async () => (await call(a)) === 200);
});

test('an ALLOW policy denies every caller it does not allow (namespaces and principals)', async () => {
  await mesh.apply(
    policy(
      'allow-c',
      `  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/c"], namespaces: ["default"] } }]
      to: [{ operation: { methods: ["GET"] } }]
`,
    ),
  );
  await eventuallyTrue('a is denied by default', async () => (await call(a)) === 403);
  assert.equal(await call(c), 200);
  assert.equal((await request(c.outbound, { host: 'b', path: '/', method: 'DELETE' })).status, 403);
  await remove('authorizationpolicy', 'allow-c');
  await eventuallyTrue('a is allowed again', async () => (await call(a)) === 200);
});

test('AUDIT never blocks, and counts what it matched', async () => {
  const before = await metric(b.admin, 'envoy_http_rbac_logged');
  await mesh.apply(
    policy(
      'audit-a',
      `  action: AUDIT
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/a"] } }] }]
`,
    ),
  );
  await eventuallyTrue('the audit policy is in force', async () => {
    assert.equal(await call(a), 200);
    return (await metric(b.admin, 'envoy_http_rbac_logged')) > before;
  });
  assert.equal(await call(c), 200);
  await remove('authorizationpolicy', 'audit-a');
});

test('RequestAuthentication + requestPrincipals: 401 bad token, 403 no token, 200 good token', async () => {
  const key = makeKey('ES256');
  const other = makeKey('ES256', key.kid);
  const issuer = 'https://issuer.example';
  await mesh.apply(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  jwtRules: [{ issuer: "${issuer}", jwks: ${JSON.stringify(jwks(key))} }]
---
${policy(
  'need-alice',
  `  action: ALLOW
  rules: [{ from: [{ source: { requestPrincipals: ["${issuer}/alice"] } }] }]
`,
)}`);
  const good = sign(key, { iss: issuer, sub: 'alice', exp: epoch(600) });
  const forged = sign(other, { iss: issuer, sub: 'alice', exp: epoch(600) });
  const bob = sign(key, { iss: issuer, sub: 'bob', exp: epoch(600) });
  await eventuallyTrue('requests without a token are denied', async () => (await call(a)) === 403);
  assert.equal(await call(a, { authorization: `Bearer ${forged}` }), 401);
  assert.equal(await call(a, { authorization: `Bearer ${bob}` }), 403);
  assert.equal(await call(a, { authorization: `Bearer ${good}` }), 200);
  assert.equal(await call(c, { authorization: `Bearer ${good}` }), 200);
  assert.ok((await metric(b.admin, 'envoy_http_jwt_authn_denied')) >= 1);
  await remove('authorizationpolicy', 'need-alice');
  await remove('requestauthentication', 'jwt');
});

test('x-forwarded-client-cert: the app sees the verified caller only; a forged header from the caller app is dropped', async () => {
  const forged = 'By=spiffe://cluster.local/ns/prod/sa/payments;URI=spiffe://cluster.local/ns/prod/sa/admin';
  const send = () =>
    request(a.outbound, { host: 'b', path: '/', headers: { 'x-forwarded-client-cert': forged } });
  // The previous test's policies were just deleted: a connection opened before that is answered
  // once more by the replaced listener while it drains, so wait for the change to be in force.
  await eventuallyTrue('the deleted policies no longer apply', async () => (await send()).status === 200);
  const r = await send();
  assert.equal(r.status, 200);
  const xfcc = String((r.json?.headers as Record<string, string> | undefined)?.['x-forwarded-client-cert']);
  assert.match(
    xfcc,
    /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/b;Hash=[0-9a-f]{64};Subject="[^"]*";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/a$/,
  );
  assert.doesNotMatch(xfcc, /prod/);
});
