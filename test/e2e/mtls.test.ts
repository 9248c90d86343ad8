// End to end: sidecar-to-sidecar mTLS with real processes, PeerAuthentication modes judged with curl-like clients and openssl.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, metric, openssl, opensslHttp, startMesh } from './mtls-mesh.ts';

const B_CLUSTER = 'outbound|80||b.default.svc.cluster.local';

let mesh: Mesh;
let apps: Echo[] = [];
let a: MeshSidecar;
let b: MeshSidecar;

before(async () => {
  mesh = await startMesh();
  apps = [await startHttpEcho('b'), await startHttpEcho('a')];
  [b, a] = await Promise.all([
    mesh.sidecar(['--service', 'b', '--app-port', String(apps[0].port)]),
    mesh.sidecar(['--service', 'a', '--app-port', String(apps[1].port)]),
  ]);
});

after(async () => {
  await mesh?.stop();
  for (const app of apps) await app.close();
});

/** a's app calling http://b/ through its sidecar. */
async function callB(): Promise<number> {
  return (await request(a.outbound, { host: 'b', path: '/' })).status;
}

/** A plaintext HTTP request straight to b's inbound port: its status, or how the connection ended. */
function plaintextToB(): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(b.inbound, '127.0.0.1');
    let data = '';
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    socket.on('close', () => resolve(data === '' ? 'closed without an answer' : data.slice(0, 12)));
  });
}

async function peerAuthentication(mode: string): Promise<void> {
  await mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: b, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  mtls: { mode: ${mode} }
`);
}

test('sidecar to sidecar is mTLS by default; the server presents its SPIFFE ID', async () => {
  await eventuallyTrue('a reaches b', async () => (await callB()) === 200);
  // The client sidecar originated TLS to b and b terminated it (both counted a handshake).
  assert.ok((await metric(a.admin, 'envoy_cluster_ssl_handshake', B_CLUSTER)) >= 1);
  assert.ok((await metric(b.admin, 'envoy_listener_ssl_handshake', `_${b.inbound}"`)) >= 1);
  const shown = await openssl(['s_client', '-connect', `127.0.0.1:${b.inbound}`, '-showcerts'], '');
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(shown.output)?.[0];
  assert.ok(leaf, shown.output);
  const sans = await openssl(['x509', '-noout', '-ext', 'subjectAltName'], leaf);
  assert.match(sans.output, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/b\b/);
  assert.match(shown.output, /Protocol\s*:\s*TLSv1\.3|TLSv1\.3/);
});

test('PERMISSIVE (no PeerAuthentication): plaintext and mTLS on the same port', async () => {
  assert.match(await plaintextToB(), /^HTTP\/1\.1 200/);
  assert.equal(await callB(), 200);
});

test('STRICT refuses plaintext and a foreign CA; a mesh certificate and mesh traffic pass', async () => {
  // A certificate from a foreign CA that claims a's identity.
  const foreignKey = join(mesh.dir, 'foreign.key');
  const foreignCert = join(mesh.dir, 'foreign.pem');
  const made = await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    foreignKey,
    '-out',
    foreignCert,
    '-days',
    '1',
    '-subj',
    '/CN=foreign',
    '-addext',
    'subjectAltName=critical,URI:spiffe://cluster.local/ns/default/sa/a',
  ]);
  assert.equal(made.code, 0, made.output);
  // A real mesh certificate for the positive control: key and CSR by openssl, signed by the CA.
  const meshKey = join(mesh.dir, 'mesh.key');
  const csr = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    meshKey,
    '-subj',
    '/CN=x',
  ]);
  const token = await runCli([
    'token',
    'create',
    '--namespace',
    'default',
    '--service-account',
    'a',
    '--server',
    mesh.server,
  ]);
  assert.equal(token.code, 0, token.stderr);
  const issued = (await (
    await fetch(new URL('/api/v1/certificates', mesh.server), {
      method: 'POST',
      headers: { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        csr: csr.output.slice(csr.output.indexOf('-----BEGIN CERTIFICATE REQUEST-----')),
      }),
    })
  ).json()) as { certificateChain: string; trustBundle: string };
  const meshCert = join(mesh.dir, 'mesh.pem');
  const root = join(mesh.dir, 'root.pem');
  await writeFile(meshCert, issued.certificateChain);
  await writeFile(root, issued.trustBundle);

  await peerAuthentication('STRICT');
  await eventuallyTrue('b refuses plaintext', async () => !(await plaintextToB()).startsWith('HTTP/'));
  assert.match(await plaintextToB(), /closed without an answer|error ECONNRESET/);

  const foreign = await opensslHttp(b.inbound, { cert: foreignCert, key: foreignKey });
  assert.doesNotMatch(foreign.output, /HTTP\/1\.1 200/);
  assert.match(foreign.output, /alert|error|errno/i);

  const noCert = await opensslHttp(b.inbound);
  assert.doesNotMatch(noCert.output, /HTTP\/1\.1 200/);
  assert.match(noCert.output, /certificate required/);

  const good = await opensslHttp(b.inbound, { cert: meshCert, key: meshKey, caFile: root });
  assert.match(good.output, /HTTP\/1\.1 200/);
  assert.match(good.output, /"name":"b"/);

  assert.equal(await callB(), 200);
  assert.ok((await metric(b.admin, 'envoy_listener_ssl_fail_verify_error', `_${b.inbound}"`)) >= 1);
});

test('DISABLE: plaintext only; the client sidecar stops originating TLS', async () => {
  await peerAuthentication('DISABLE');
  await eventuallyTrue('b serves plaintext again', async () =>
    (await plaintextToB()).startsWith('HTTP/1.1 200'),
  );
  const tls = await opensslHttp(b.inbound);
  assert.doesNotMatch(tls.output, /HTTP\/1\.1 200/);
  // a's EDS endpoint for b lost its tlsMode label: its pool is replaced and the first request
  // after that opens a new connection without a TLS handshake.
  await eventuallyTrue('a reaches b over a new plaintext connection', async () => {
    const connections = await metric(a.admin, 'envoy_cluster_upstream_cx_total', B_CLUSTER);
    const handshakes = await metric(a.admin, 'envoy_cluster_ssl_handshake', B_CLUSTER);
    const status = await callB();
    return (
      status === 200 &&
      (await metric(a.admin, 'envoy_cluster_upstream_cx_total', B_CLUSTER)) > connections &&
      (await metric(a.admin, 'envoy_cluster_ssl_handshake', B_CLUSTER)) === handshakes
    );
  });
});

test('a proxy whose token grants another service account fails clearly', async () => {
  const token = await runCli([
    'token',
    'create',
    '--namespace',
    'default',
    '--service-account',
    'a',
    '--server',
    mesh.server,
  ]);
  assert.equal(token.code, 0);
  const r = await runCli([
    'proxy',
    '--server',
    mesh.server,
    '--service',
    'c',
    '--service-account',
    'b',
    '--app-port',
    '9',
    '--inbound-port',
    '0',
    '--outbound-port',
    '0',
    '--admin-port',
    '0',
    '--token',
    token.stdout.trim(),
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /error: the bootstrap token grants namespace default, service account a, but this proxy serves namespace default, service account b/,
  );
});

/** A CA, a server certificate for api.example.com and a client certificate, made with the openssl CLI. */
async function externalPki(
  dir: string,
): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const steps = [
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f('ext-ca.key'),
      '-out',
      f('ext-ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=external CA',
    ],
    ['req', '-new', ...ec, '-keyout', f('api.key'), '-out', f('api.csr'), '-subj', '/CN=api.example.com'],
    ['req', '-new', ...ec, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=mesh client'],
  ];
  for (const args of steps) assert.equal((await openssl(args)).code, 0);
  await writeFile(f('api.ext'), 'subjectAltName=DNS:api.example.com\n');
  for (const [csr, out, ext] of [
    ['api.csr', 'api.pem', ['-extfile', f('api.ext')]],
    ['client.csr', 'client.pem', []],
  ] as const) {
    const r = await openssl([
      'x509',
      '-req',
      '-in',
      f(csr),
      '-CA',
      f('ext-ca.pem'),
      '-CAkey',
      f('ext-ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      f(out),
      ...ext,
    ]);
    assert.equal(r.code, 0, r.output);
  }
  return {
    ca: f('ext-ca.pem'),
    serverCert: f('api.pem'),
    serverKey: f('api.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

test('DestinationRule SIMPLE and MUTUAL originate TLS to a service outside the mesh', async (t) => {
  const pki = await externalPki(mesh.dir);
  // An HTTPS server outside the mesh that wants a client certificate from its own CA.
  const server = https.createServer(
    {
      cert: await readFile(pki.serverCert),
      key: await readFile(pki.serverKey),
      ca: await readFile(pki.ca),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          sni: socket.servername,
          client: socket.authorized ? socket.getPeerCertificate().subject?.CN : null,
        }),
      );
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const rule = (tls: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec:
  host: api.example.com
  trafficPolicy: { tls: ${tls} }
`;
  const callApi = () => request(a.outbound, { host: 'api.example.com', path: '/' });
  await mesh.apply(rule(`{ mode: SIMPLE, caCertificates: ${pki.ca} }`));
  await eventuallyTrue('SIMPLE reaches the HTTPS server', async () => (await callApi()).status === 200);
  assert.deepEqual((await callApi()).json, { sni: 'api.example.com', client: null });
  await mesh.apply(
    rule(
      `{ mode: MUTUAL, caCertificates: ${pki.ca}, clientCertificate: ${pki.clientCert}, privateKey: ${pki.clientKey} }`,
    ),
  );
  await eventuallyTrue(
    'MUTUAL presents the client certificate',
    async () => (await callApi()).json?.client === 'mesh client',
  );
  // A server the rule's CA did not sign is refused: the mesh CA's root is not the external one.
  const meshRoot = join(mesh.dir, 'mesh-root.pem');
  await writeFile(meshRoot, await (await fetch(new URL('/api/v1/trust-bundle', mesh.server))).text());
  await mesh.apply(rule(`{ mode: SIMPLE, caCertificates: ${meshRoot} }`));
  await eventuallyTrue('an untrusted server is refused', async () => (await callApi()).status === 503);
});
