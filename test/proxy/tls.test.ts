// The proxy's TLS unit: Envoy TLS contexts compiled, real handshakes between DownstreamTls and UpstreamTls, rotation.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type tls from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { generateWorkloadKey } from '../../src/identity/workload-key.ts';
import { tlsConnectionFacts } from '../../src/proxy/tls/connection-facts.ts';
import { DownstreamTls, readFirstBytes } from '../../src/proxy/tls/downstream.ts';
import { ROOT_CA_SECRET, SecretStore, WORKLOAD_CERT_SECRET } from '../../src/proxy/tls/secrets.ts';
import {
  compileDownstreamTransportSocket,
  compileTransportSocketMatches,
  compileUpstreamTransportSocket,
  DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
  selectUpstreamTls,
  UPSTREAM_TLS_CONTEXT_TYPE_URL,
} from '../../src/proxy/tls/tls-config.ts';
import { setTlsFileDirs } from '../../src/proxy/tls/tls-files.ts';
import { TlsStats } from '../../src/proxy/tls/tls-stats.ts';
import { SAN_MISMATCH_CODE, socketReadyEvent, UpstreamTls } from '../../src/proxy/tls/upstream.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { tempDir } from '../identity/fixtures.ts';

const SDS = { ads: {}, resource_api_version: 'V3' };

/** The mesh TLS shape of docs/security.md, in the proxy's decoded (camelCase) form. */
function meshCommon(sans: string[] | undefined, alpn: string[]) {
  return {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_3' },
    tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }],
    combined_validation_context: {
      default_validation_context: sans
        ? { match_typed_subject_alt_names: sans.map((s) => ({ san_type: 'URI', matcher: { exact: s } })) }
        : {},
      validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS },
    },
    alpn_protocols: alpn,
  };
}

function downstreamSocket() {
  return camelize({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': DOWNSTREAM_TLS_CONTEXT_TYPE_URL,
      common_tls_context: meshCommon(undefined, ['istio', 'h2', 'http/1.1']),
      require_client_certificate: { value: true },
    },
  }) as Record<string, unknown>;
}

function upstreamSocket(sans: string[]) {
  return camelize({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
      sni: 'outbound_.80_._.b.default.svc.cluster.local',
      common_tls_context: meshCommon(sans, ['istio']),
    },
  }) as Record<string, unknown>;
}

async function identityStore(ca: CertificateAuthority, sa: string): Promise<SecretStore> {
  const store = new SecretStore();
  await issueInto(store, ca, sa);
  return store;
}

async function issueInto(store: SecretStore, ca: CertificateAuthority, sa: string): Promise<string> {
  const key = await generateWorkloadKey();
  const issued = await ca.sign(key.csrPem, { namespace: 'default', serviceAccount: sa });
  store.set(WORKLOAD_CERT_SECRET, {
    kind: 'tls_certificate',
    certChainPem: issued.certificateChainPem,
    privateKeyPem: key.keyPem,
  });
  store.set(ROOT_CA_SECRET, { kind: 'validation_context', trustedCaPem: ca.trustBundle() });
  return new X509Certificate(issued.certificateChainPem).serialNumber;
}

interface Served {
  port: number;
  /** Peer principals seen by the server, one per connection. */
  principals: (string | undefined)[];
  stats: TlsStats;
  close(): void;
}

/** A TLS echo server built like the proxy's listener: net accept → inspect → DownstreamTls. */
async function serve(t: { after(fn: () => void): void }, store: SecretStore): Promise<Served> {
  const config = compileDownstreamTransportSocket(downstreamSocket(), 'test')!;
  const principals: (string | undefined)[] = [];
  const stats = new TlsStats('listener', 'test');
  const open = new Set<net.Socket>();
  const terminator = new DownstreamTls(config, store, stats, 'test', (secure: tls.TLSSocket) => {
    principals.push(tlsConnectionFacts(secure).peerPrincipal);
    readFirstBytes(secure, (first) => {
      secure.write(`echo:${first.toString()}`);
      secure.on('data', (d: Buffer) => secure.write(`echo:${d.toString()}`));
      secure.resume();
    });
  });
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (hello: Buffer) => {
      socket.pause();
      terminator.accept(socket, hello);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => {
    server.close();
    for (const s of open) s.destroy();
  };
  t.after(close);
  return { port: (server.address() as net.AddressInfo).port, principals, stats, close };
}

/** Connects with UpstreamTls and sends one message; resolves to the answer or the error code. */
function call(
  upstream: UpstreamTls,
  port: number,
  message: string,
): Promise<{ answer?: string; error?: string; socket: tls.TLSSocket }> {
  const socket = upstream.connect('127.0.0.1', port) as tls.TLSSocket;
  return new Promise((resolve) => {
    socket.once(socketReadyEvent(socket), () => socket.write(message));
    socket.once('data', (d: Buffer) => resolve({ answer: d.toString(), socket }));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message, socket }));
    socket.once('close', () => resolve({ error: 'closed', socket }));
  });
}

describe('compile', () => {
  test('the mesh shapes compile to SDS names, TLS 1.3, ALPN and SAN matchers', () => {
    const down = compileDownstreamTransportSocket(downstreamSocket(), 'Listener inbound')!;
    assert.equal(down.requireClientCertificate, true);
    assert.deepEqual(down.common.certificate, { kind: 'sds', name: 'default' });
    assert.deepEqual(down.common.validation?.trust, { kind: 'sds', name: 'ROOTCA' });
    assert.equal(down.common.minVersion, 'TLSv1.3');
    const up = compileUpstreamTransportSocket(
      upstreamSocket(['spiffe://cluster.local/ns/default/sa/b']),
      'c',
    )!;
    assert.equal(up.sni, 'outbound_.80_._.b.default.svc.cluster.local');
    assert.equal(up.common.validation?.sanMatchers[0].sanType, 'URI');
    assert.deepEqual(up.common.alpn, ['istio']);
  });

  test('raw_buffer and an absent socket mean plaintext', () => {
    assert.equal(compileUpstreamTransportSocket(undefined, 'c'), undefined);
    assert.equal(
      compileUpstreamTransportSocket({ name: 'envoy.transport_sockets.raw_buffer' }, 'c'),
      undefined,
    );
  });

  test('what weft cannot honour is refused, naming the field', () => {
    const socket = upstreamSocket([]);
    (socket.typedConfig as Record<string, unknown>).autoHostSni = true;
    assert.throws(
      () => compileUpstreamTransportSocket(socket, 'Cluster x.transport_socket'),
      /auto_host_sni/,
    );
    const bad = downstreamSocket();
    (bad.typedConfig as Record<string, unknown>).sessionTicketKeys = { keys: [{ inlineString: 'x' }] };
    assert.throws(
      () => compileDownstreamTransportSocket(bad, 'Listener l.filter_chains[0].transport_socket'),
      /Listener l\.filter_chains\[0\]\.transport_socket\.typed_config: field 'session_ticket_keys' is not supported/,
    );
    const missingFile = camelize({
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
        common_tls_context: { validation_context: { trusted_ca: { filename: '/nonexistent/ca.pem' } } },
      },
    }) as Record<string, unknown>;
    assert.throws(
      () => compileUpstreamTransportSocket(missingFile, 'c'),
      /cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
    );
  });

  test('transport_socket_matches: the first match contained in the endpoint metadata wins', () => {
    const matches = compileTransportSocketMatches(
      camelize([
        {
          name: 'tlsMode-istio',
          match: { fields: { tlsMode: { stringValue: 'istio' } } },
          transport_socket: upstreamSocket([]),
        },
        {
          name: 'tlsMode-disabled',
          match: {},
          transport_socket: { name: 'envoy.transport_sockets.raw_buffer' },
        },
      ]),
      'c',
    );
    assert.ok(selectUpstreamTls(matches, undefined, { tlsMode: 'istio' }));
    assert.equal(selectUpstreamTls(matches, undefined, { tlsMode: 'disabled' }), undefined);
    assert.equal(selectUpstreamTls(matches, undefined, undefined), undefined);
  });

  test('data sources: inline certificates and CA files load', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const dir = await tempDir(t);
    setTlsFileDirs([dir]);
    t.after(() => setTlsFileDirs(undefined));
    await writeFile(join(dir, 'ca.pem'), ca.trustBundle());
    const up = compileUpstreamTransportSocket(
      camelize({
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': UPSTREAM_TLS_CONTEXT_TYPE_URL,
          common_tls_context: {
            validation_context: {
              trusted_ca: { filename: join(dir, 'ca.pem') },
              match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'api.example.com' } }],
            },
          },
        },
      }) as Record<string, unknown>,
      'c',
    )!;
    assert.deepEqual(up.common.validation?.trust, { kind: 'inline', trustedCaPem: ca.trustBundle() });
  });
});

describe('handshakes', () => {
  test('mutual TLS 1.3 with secure naming: the server learns the client SPIFFE ID', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const served = await serve(t, await identityStore(ca, 'b'));
    const client = await identityStore(ca, 'a');
    const upstream = new UpstreamTls(
      compileUpstreamTransportSocket(upstreamSocket(['spiffe://cluster.local/ns/default/sa/b']), 'c')!,
      client,
      new TlsStats('cluster', 'c'),
      'c',
    );
    const r = await call(upstream, served.port, 'hi');
    assert.equal(r.answer, 'echo:hi');
    assert.equal(r.socket.getProtocol(), 'TLSv1.3');
    assert.equal(r.socket.getCipher().standardName, 'TLS_AES_128_GCM_SHA256');
    assert.equal(r.socket.alpnProtocol, 'istio');
    r.socket.destroy();
    assert.deepEqual(served.principals, ['spiffe://cluster.local/ns/default/sa/a']);
    assert.equal(served.stats.handshake, 1);
  });

  test('cipher: the server picks AES-128-GCM over a client that offers AES-256-GCM first, and one that offers only AES-256-GCM still connects', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const served = await serve(t, await identityStore(ca, 'b'));
    const client = await identityStore(ca, 'a');
    const identity = client.get(WORKLOAD_CERT_SECRET)?.secret;
    assert.equal(identity?.kind, 'tls_certificate');
    const handshake = (ciphers: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          port: served.port,
          host: '127.0.0.1',
          ca: ca.trustBundle(),
          cert: identity.certChainPem,
          key: identity.privateKeyPem,
          ciphers,
          ALPNProtocols: ['istio'],
          checkServerIdentity: () => undefined,
        });
        socket.once('secureConnect', () => {
          resolve(socket.getCipher().standardName);
          socket.destroy();
        });
        socket.once('error', reject);
      });
    assert.equal(
      await handshake('TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256'),
      'TLS_AES_128_GCM_SHA256',
    );
    assert.equal(await handshake('TLS_AES_256_GCM_SHA384'), 'TLS_AES_256_GCM_SHA384');
    assert.equal(await handshake('TLS_CHACHA20_POLY1305_SHA256'), 'TLS_CHACHA20_POLY1305_SHA256');
  });

  test('a server outside the expected identities is refused by the client (secure naming)', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const served = await serve(t, await identityStore(ca, 'impostor'));
    const stats = new TlsStats('cluster', 'c');
    const upstream = new UpstreamTls(
      compileUpstreamTransportSocket(upstreamSocket(['spiffe://cluster.local/ns/default/sa/b']), 'c')!,
      await identityStore(ca, 'a'),
      stats,
      'c',
    );
    const r = await call(upstream, served.port, 'hi');
    assert.equal(r.error, SAN_MISMATCH_CODE);
    assert.equal(stats.failVerifySan, 1);
  });

  test('a client certificate from a foreign CA is refused by the server', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const foreign = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const served = await serve(t, await identityStore(ca, 'b'));
    // The client trusts our root (so it accepts the server) but presents a foreign certificate.
    const client = await identityStore(foreign, 'a');
    client.set(ROOT_CA_SECRET, { kind: 'validation_context', trustedCaPem: ca.trustBundle() });
    const upstream = new UpstreamTls(
      compileUpstreamTransportSocket(upstreamSocket(['spiffe://cluster.local/ns/default/sa/b']), 'c')!,
      client,
      new TlsStats('cluster', 'c'),
      'c',
    );
    const r = await call(upstream, served.port, 'hi');
    assert.equal(r.answer, undefined);
    assert.deepEqual(served.principals, []);
    await waitFor(() => served.stats.failVerifyError === 1);
  });

  test('rotation: new handshakes use the new certificate, an open connection keeps going', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const serverStore = new SecretStore();
    const firstSerial = await issueInto(serverStore, ca, 'b');
    const served = await serve(t, serverStore);
    const upstream = new UpstreamTls(
      compileUpstreamTransportSocket(upstreamSocket(['spiffe://cluster.local/ns/default/sa/b']), 'c')!,
      await identityStore(ca, 'a'),
      new TlsStats('cluster', 'c'),
      'c',
    );
    const before = await call(upstream, served.port, 'one');
    assert.equal(before.socket.getPeerCertificate().serialNumber, firstSerial.toUpperCase());
    const secondSerial = await issueInto(serverStore, ca, 'b');
    assert.notEqual(secondSerial, firstSerial);
    const after = await call(upstream, served.port, 'two');
    assert.equal(after.answer, 'echo:two');
    assert.equal(after.socket.getPeerCertificate().serialNumber, secondSerial.toUpperCase());
    // The first connection, negotiated before the rotation, still carries data.
    const again = new Promise<string>((resolve) =>
      before.socket.once('data', (d: Buffer) => resolve(d.toString())),
    );
    before.socket.write('three');
    assert.equal(await again, 'echo:three');
    before.socket.destroy();
    after.socket.destroy();
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
