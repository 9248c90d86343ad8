// Linkerd Server + AuthorizationPolicy + MeshTLSAuthentication on real sidecars over mTLS: one identity admitted, another 403, plaintext 403.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { grpcEchoClient, type Message, startGrpcEcho } from '../helpers/echo-grpc.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

let mesh: Mesh;
let app: Echo;
let grpcApp: Echo;
let emoji: MeshSidecar;
/** Clients running as ServiceAccounts `vote-bot` (authorized) and `web` (not). */
let voteBot: MeshSidecar;
let web: MeshSidecar;

before(async () => {
  mesh = await startMesh();
  app = await startHttpEcho('emoji');
  grpcApp = await startGrpcEcho('voting');
  [emoji, , voteBot, web] = await Promise.all([
    mesh.sidecar(['--service', 'emoji', '--app-port', String(app.port), '--app-port-name', 'http']),
    mesh.sidecar(['--service', 'voting', '--app-port', String(grpcApp.port), '--service-port', '50051']),
    mesh.sidecar(['--service', 'bot', '--service-account', 'vote-bot', '--app-port', '1']),
    mesh.sidecar(['--service', 'web', '--service-account', 'web', '--app-port', '1']),
  ]);
});

after(async () => {
  await mesh?.stop();
  await app?.close();
  await grpcApp?.close();
});

/** A plaintext HTTP request straight to emoji's inbound port: the status line's first 12 bytes, or how it ended. */
function plaintext(): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(emoji.inbound, '127.0.0.1');
    let data = '';
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer from the inbound port in 20 s')));
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: emoji\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    socket.on('close', () => resolve(data === '' ? 'closed without an answer' : data.slice(0, 12)));
  });
}

const status = async (client: MeshSidecar) =>
  (await request(client.outbound, { host: 'emoji', path: '/' })).status;

test('a Server denies its port; a MeshTLSAuthentication admits one identity, the other gets 403, plaintext 403', async () => {
  await eventuallyTrue('both clients reach emoji before any policy', async () => {
    return (await status(voteBot)) === 200 && (await status(web)) === 200;
  });
  await mesh.apply(`apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: emoji-http, namespace: default}
spec:
  podSelector: {matchLabels: {app: emoji}}
  port: http                # the sidecar's --app-port-name
`);
  await eventuallyTrue(
    'a Server nothing authorizes denies everyone',
    async () => (await status(voteBot)) === 403,
  );
  // A connection open before the change may be answered once more by the replaced listener (it drains).
  await eventuallyTrue('web is denied too', async () => (await status(web)) === 403);
  await mesh.apply(`apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: vote-bot, namespace: default}
spec:
  identities: [vote-bot.default.serviceaccount.identity.linkerd.cluster.local]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: emoji-vote-bot, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: emoji-http}
  requiredAuthenticationRefs:
  - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: vote-bot}
`);
  await eventuallyTrue('vote-bot is authorized', async () => (await status(voteBot)) === 200);
  const denied = await request(web.outbound, { host: 'emoji', path: '/' });
  assert.equal(denied.status, 403, 'web is not in the MeshTLSAuthentication');
  assert.equal(denied.body.toString(), 'RBAC: access denied');
  assert.equal(await plaintext(), 'HTTP/1.1 403', 'a plaintext client has no identity');
});

type Unary = (
  req: Message,
  md: grpc.Metadata,
  cb: (e: grpc.ServiceError | null, r?: Message) => void,
) => unknown;

/** One unary gRPC call to voting through the sidecar at `client`: OK, or the status code. */
function vote(client: MeshSidecar): Promise<grpc.status> {
  const stub = grpcEchoClient(`127.0.0.1:${client.outbound}`, 'voting:50051');
  return new Promise<grpc.status>((resolve) =>
    (stub.Unary as unknown as Unary)({ id: 1 }, new grpc.Metadata(), (err) => {
      stub.close();
      resolve(err === null ? grpc.status.OK : err.code);
    }),
  );
}

test('gRPC to a Server port: the authorized identity is served, the other gets PERMISSION_DENIED', async () => {
  await eventuallyTrue(
    'web reaches voting before any policy',
    async () => (await vote(web)) === grpc.status.OK,
  );
  await mesh.apply(`apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: voting-grpc, namespace: default}
spec:
  podSelector: {matchLabels: {app: voting}}
  port: ${grpcApp.port}
  proxyProtocol: gRPC
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: voting-bot, namespace: default}
spec:
  server: {name: voting-grpc}
  client:
    meshTLS:
      serviceAccounts: [{name: vote-bot}]
`);
  await eventuallyTrue('web is refused', async () => (await vote(web)) === grpc.status.PERMISSION_DENIED);
  assert.equal(await vote(voteBot), grpc.status.OK);
});
