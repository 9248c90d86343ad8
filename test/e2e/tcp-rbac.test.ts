// End to end: AuthorizationPolicy and Linkerd Servers on an opaque TCP workload (`--protocol tcp`), enforced by network RBAC over real mTLS between sidecars.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startTcpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { type Mesh, type MeshSidecar, metric, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let db: Echo;
/** The TCP workload's sidecar, and two callers with service accounts a and c. */
let dbSidecar: MeshSidecar;
let a: MeshSidecar;
let c: MeshSidecar;

before(async () => {
  mesh = await startMesh();
  db = await startTcpEcho('db');
  const app = String(db.port);
  [dbSidecar, a, c] = await Promise.all([
    mesh.sidecar(['--service', 'db', '--app-port', app, '--protocol', 'tcp', '--service-port', '5432']),
    mesh.sidecar(['--service', 'a', '--app-port', app]),
    mesh.sidecar(['--service', 'c', '--app-port', app]),
  ]);
  await mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: PERMISSIVE } }
`);
  await eventuallyTrue(
    'a and c reach db over their sidecars',
    async () => (await viaSidecar(a)) === 'db: ping' && (await viaSidecar(c)) === 'db: ping',
  );
});

after(async () => {
  await mesh?.stop();
  await db?.close();
});

/**
 * Sends `ping` on `socket` once `ready` says so, half-closes, and resolves with what came back
 * (after `skipHead`'s end, if given) when the peer closes. Bounded: a proxy that neither answers
 * nor closes fails the test instead of hanging it.
 */
function exchange(socket: net.Socket, start: () => void, skipHead: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.setTimeout(10_000, () =>
      socket.destroy(new Error('the connection was neither answered nor closed within 10 s')),
    );
    socket.setEncoding('utf8').on('data', (d: string) => {
      got += d;
      if (skipHead && got.includes('\r\n\r\n') && !got.startsWith('HTTP/1.1 200')) socket.end();
    });
    socket.on('connect', start);
    socket.on('close', () => {
      if (!skipHead) return resolve(got);
      const at = got.indexOf('\r\n\r\n');
      resolve(at < 0 ? '' : got.slice(at + 4));
    });
    socket.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err),
    );
  });
}

/** A CONNECT tunnel to db:5432 through a caller's sidecar (mTLS to db's sidecar): what db's side sent. */
function viaSidecar(from: MeshSidecar): Promise<string> {
  const socket = net.connect({ port: from.outbound, host: '127.0.0.1', allowHalfOpen: true });
  return exchange(
    socket,
    () => socket.write('CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\nping', () => socket.end()),
    true,
  );
}

/** A plaintext client straight at db's sidecar (PERMISSIVE admits plaintext): what came back. */
function plaintext(): Promise<string> {
  const socket = net.connect({ port: dbSidecar.inbound, host: '127.0.0.1', allowHalfOpen: true });
  return exchange(socket, () => socket.end('ping'), false);
}

test('ALLOW principals on a TCP workload: the allowed caller echoes, another principal and a plaintext client are closed', async () => {
  assert.equal(await plaintext(), 'db: ping', 'before the policy plaintext is proxied');
  await mesh.apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-a, namespace: default }
spec:
  selector: { matchLabels: { app: db } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/a"] } }] }]
`);
  await eventuallyTrue('c is refused', async () => (await viaSidecar(c)) === '');
  assert.equal(await viaSidecar(a), 'db: ping', 'the allowed principal still echoes');
  assert.equal(await plaintext(), '', 'a plaintext client has no principal: closed before db speaks');
  assert.ok((await metric(dbSidecar.admin, 'envoy_tcp_rbac_denied')) >= 2);
  assert.ok((await metric(dbSidecar.admin, 'envoy_tcp_rbac_allowed')) >= 1);
});

test('a Linkerd Server on the TCP port: the identity its AuthorizationPolicy names echoes, the others are closed', async () => {
  const removed = await runCli([
    'delete',
    'authorizationpolicy',
    'allow-a',
    '-n',
    'default',
    '--server',
    mesh.server,
  ]);
  assert.equal(removed.code, 0, removed.stderr);
  await eventuallyTrue('c reaches db again', async () => (await viaSidecar(c)) === 'db: ping');
  await mesh.apply(`apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: db-tcp, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  port: ${db.port}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: only-c, namespace: default}
spec:
  identities: [c.default.serviceaccount.identity.linkerd.cluster.local]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: db-c, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: db-tcp}
  requiredAuthenticationRefs:
  - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: only-c}
`);
  await eventuallyTrue('a is refused', async () => (await viaSidecar(a)) === '');
  assert.equal(await viaSidecar(c), 'db: ping', 'the authorized identity is let through');
  assert.equal(await plaintext(), '', 'a plaintext client has no identity');
});
