// Real TLS 1.3 handshakes between two Node endpoints holding issued workload certificates.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { checkServerSpiffeId, peerSpiffeId, spiffeIdOfCertificate } from '../../src/identity/spiffe.ts';
import { generateWorkloadKey } from '../../src/identity/workload-key.ts';
import { makeOpensslCa, tempDir } from './fixtures.ts';

interface Workload {
  key: string;
  cert: string;
  ca: string;
  spiffeId: string;
}

async function workload(
  ca: CertificateAuthority,
  namespace: string,
  serviceAccount: string,
): Promise<Workload> {
  const key = await generateWorkloadKey();
  const issued = await ca.sign(key.csrPem, { namespace, serviceAccount });
  return {
    key: key.keyPem,
    cert: issued.certificateChainPem,
    ca: ca.trustBundle(),
    spiffeId: issued.spiffeId,
  };
}

type ServerOutcome =
  | { outcome: 'connected'; peer: string | undefined; protocol: string | null }
  | { outcome: 'refused'; error: string };
type ClientOutcome =
  | { outcome: 'connected'; peer: string | undefined; protocol: string | null }
  | { outcome: 'refused'; error: string };

/** One handshake: server requires and verifies a client certificate; the client verifies the server. */
async function handshake(
  t: { after(fn: () => unknown): void },
  server: Workload,
  client: Workload,
  options: { expectServer?: string[] } = {},
): Promise<{ server: ServerOutcome; client: ClientOutcome; received: string }> {
  const srv = tls.createServer({
    key: server.key,
    cert: server.cert,
    ca: server.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  t.after(() => srv.close());
  const serverOutcome = new Promise<ServerOutcome>((resolve) => {
    srv.on('secureConnection', (socket) => {
      resolve({
        outcome: 'connected',
        peer: peerSpiffeId(socket),
        protocol: socket.getProtocol(),
      });
      socket.end('hello');
    });
    // Node verifies the client certificate after the handshake and destroys the socket without
    // saying why, so a refusal shows as a reset here; what matters is that no secureConnection happened.
    srv.on('tlsClientError', (err) => resolve({ outcome: 'refused', error: err.message }));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    key: client.key,
    cert: client.cert,
    ca: client.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    checkServerIdentity: checkServerSpiffeId(options.expectServer ?? [server.spiffeId]),
  });
  t.after(() => socket.destroy());
  const clientOutcome = new Promise<ClientOutcome>((resolve) => {
    socket.on('secureConnect', () =>
      resolve({
        outcome: 'connected',
        peer: spiffeIdOfCertificate(socket.getPeerX509Certificate()),
        protocol: socket.getProtocol(),
      }),
    );
    socket.on('error', (err) => resolve({ outcome: 'refused', error: err.message }));
  });
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  const clientResult = await clientOutcome;
  // When the client itself refused, the server sees a reset or alert; otherwise wait for the server's verdict.
  const serverResult =
    clientResult.outcome === 'refused'
      ? await Promise.race([
          serverOutcome,
          closed.then(() => ({ outcome: 'refused', error: 'client refused' }) as const),
        ])
      : await serverOutcome;
  await closed;
  return { server: serverResult, client: clientResult, received };
}

describe('mutual TLS with issued certificates', () => {
  test('two workloads complete a TLS 1.3 handshake and read each other’s SPIFFE ID', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const reviews = await workload(ca, 'default', 'reviews');
    const productpage = await workload(ca, 'default', 'productpage');
    const result = await handshake(t, reviews, productpage);
    assert.deepEqual(result.client, {
      outcome: 'connected',
      peer: 'spiffe://cluster.local/ns/default/sa/reviews',
      protocol: 'TLSv1.3',
    });
    assert.deepEqual(result.server, {
      outcome: 'connected',
      peer: 'spiffe://cluster.local/ns/default/sa/productpage',
      protocol: 'TLSv1.3',
    });
    assert.equal(result.received, 'hello');
  });

  test('a client certificate from a foreign CA is refused by the server', async (t) => {
    const ours = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const foreign = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const server = await workload(ours, 'default', 'reviews');
    // The intruder trusts our root (it is public) but its own certificate is from another CA.
    const intruder = { ...(await workload(foreign, 'default', 'productpage')), ca: ours.trustBundle() };
    const result = await handshake(t, server, intruder);
    assert.equal(result.server.outcome, 'refused');
    assert.equal(result.received, '', 'the server sent nothing to the intruder');
  });

  test('a server certificate from a foreign CA is refused by the client', async (t) => {
    const ours = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const foreign = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const client = await workload(ours, 'default', 'productpage');
    const impostor = { ...(await workload(foreign, 'default', 'reviews')), ca: ours.trustBundle() };
    const result = await handshake(t, impostor, client);
    assert.equal(result.client.outcome, 'refused');
    assert.ok(result.client.outcome === 'refused');
    assert.match(result.client.error, /unable to verify|local issuer/i);
  });

  test('secure naming: a valid mesh certificate with the wrong identity is refused by the client', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const ratings = await workload(ca, 'default', 'ratings');
    const client = await workload(ca, 'default', 'productpage');
    const result = await handshake(t, ratings, client, {
      expectServer: ['spiffe://cluster.local/ns/default/sa/reviews'],
    });
    assert.equal(result.client.outcome, 'refused');
    assert.ok(result.client.outcome === 'refused');
    assert.match(
      result.client.error,
      /spiffe:\/\/cluster.local\/ns\/default\/sa\/ratings is not one expected/,
    );
  });

  test('leaves from a plug-in intermediate verify against the root bundle alone', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    const ca = await CertificateAuthority.open({
      dataDir: join(dir, 'data'),
      plugin: { certFile: files.intermediateCert, keyFile: files.intermediateKey, chainFile: files.rootCert },
    });
    const result = await handshake(t, await workload(ca, 'a', 'x'), await workload(ca, 'a', 'y'));
    assert.equal(result.client.outcome, 'connected');
    assert.equal(result.server.outcome, 'connected');
    assert.ok(result.server.outcome === 'connected');
    assert.equal(result.server.peer, 'spiffe://cluster.local/ns/a/sa/y');
  });
});
