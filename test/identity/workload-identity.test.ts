// WorkloadIdentity: gets a certificate over HTTP, renews at about half-life with a new key, backs off on failure.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { CaApi } from '../../src/control/ca/api.ts';
import { BootstrapTokens } from '../../src/control/ca/bootstrap-token.ts';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { OperatorToken } from '../../src/control/ca/operator-token.ts';
import type { WeftError } from '../../src/errors.ts';
import { spiffeIdOfCertificate } from '../../src/identity/spiffe.ts';
import { type IdentitySnapshot, WorkloadIdentity } from '../../src/identity/workload-identity.ts';
import { FakeTimers, serveCaApi, tempDir } from './fixtures.ts';

const HOUR = 3_600_000;

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function controlPlane(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  const ca = await CertificateAuthority.open({ dataDir });
  const tokens = await BootstrapTokens.open(dataDir);
  const api = new CaApi({ ca, tokens, operatorToken: await OperatorToken.open(dataDir) });
  const server = await serveCaApi(t, api);
  return { ca, tokens, server, dataDir };
}

describe('WorkloadIdentity', () => {
  test('start gets a certificate for the token’s identity with a key generated locally', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const timers = new FakeTimers();
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'default', serviceAccount: 'reviews' }).token,
      ttlMs: HOUR,
      timers,
    });
    t.after(() => identity.close());
    const snapshot = await identity.start();
    assert.equal(snapshot.spiffeId, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.match(snapshot.keyPem, /BEGIN PRIVATE KEY/);
    assert.ok(Math.abs(snapshot.notAfter.getTime() - Date.now() - HOUR) < 5_000);
    assert.deepEqual(identity.current(), snapshot);
    assert.equal(identity.tlsOptions().minVersion, 'TLSv1.3');
    const context = identity.secureContext();
    assert.equal(identity.secureContext(), context, 'context is built once per certificate');
    // Renewal is scheduled at half the life, ± 5% jitter.
    const { ms } = timers.only();
    assert.ok(ms > 0.44 * HOUR && ms < 0.56 * HOUR, `renewal in ${ms} ms`);
  });

  test('renewal brings a new key and certificate and tells the listeners', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const timers = new FakeTimers();
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'default', serviceAccount: 'reviews' }).token,
      ttlMs: HOUR,
      timers,
    });
    t.after(() => identity.close());
    const first = await identity.start();
    const firstContext = identity.secureContext();
    const rotated: IdentitySnapshot[] = [];
    identity.onRotate((s) => rotated.push(s));
    const rotation = new Promise<IdentitySnapshot>((resolve) => identity.onRotate(resolve));
    timers.fire(timers.only().id);
    const second = await rotation;
    assert.equal(rotated.length, 1);
    assert.notEqual(second.keyPem, first.keyPem);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(second.spiffeId, first.spiffeId);
    assert.deepEqual(identity.current(), second);
    assert.notEqual(identity.secureContext(), firstContext);
    assert.equal(timers.pending.size, 1, 'the next renewal is scheduled');
  });

  test('a renewal further away than setTimeout allows (24.8 days) is armed in steps', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const timers = new FakeTimers();
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token,
      ttlMs: 90 * 24 * HOUR,
      jitterFraction: 0,
      timers,
    });
    t.after(() => identity.close());
    await identity.start();
    const first = timers.only();
    assert.equal(first.ms, 2 ** 31 - 1);
    const requests = server.requests;
    timers.fire(first.id);
    const second = timers.only();
    assert.ok(Math.abs(second.ms - (45 * 24 * HOUR - (2 ** 31 - 1))) < 60_000, `then ${second.ms} ms more`);
    assert.equal(server.requests, requests, 'no request before the renewal time');
    const rotation = new Promise((resolve) => identity.onRotate(resolve));
    timers.fire(second.id);
    await rotation;
  });

  test('a failed renewal is retried with growing backoff until it succeeds', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const timers = new FakeTimers();
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'default', serviceAccount: 'reviews' }).token,
      ttlMs: HOUR,
      minBackoffMs: 1000,
      maxBackoffMs: 4000,
      timers,
    });
    t.after(() => identity.close());
    const first = await identity.start();
    server.unavailable = true;
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = server.requests;
      timers.fire(timers.only().id);
      // Wait until the failed request was made and the retry armed.
      while (server.requests === before || timers.pending.size === 0)
        await new Promise((r) => setImmediate(r));
      delays.push(timers.only().ms);
    }
    // 1 s, 2 s, 4 s, 4 s (capped), each ± 20%.
    for (const [i, expected] of [1000, 2000, 4000, 4000].entries())
      assert.ok(Math.abs(delays[i] - expected) <= expected * 0.2 + 1, `retry ${i}: ${delays[i]} ms`);
    assert.deepEqual(identity.current(), first, 'the old certificate stays in use meanwhile');
    server.unavailable = false;
    const rotation = new Promise<IdentitySnapshot>((resolve) => identity.onRotate(resolve));
    timers.fire(timers.only().id);
    assert.notEqual((await rotation).serialNumber, first.serialNumber);
  });

  test('a refused token fails start at once; an unreachable control plane is retried until the deadline', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const bad = new WorkloadIdentity({ server: server.url, token: 'not-a-token', timers: new FakeTimers() });
    await assert.rejects(bad.start(), (err: WeftError) => err.code === 'WEFT_UNAUTHORIZED');
    assert.equal(server.requests, 1, 'no retry for a refused token');

    const timers = new FakeTimers();
    const down = new WorkloadIdentity({
      server: `http://127.0.0.1:${await closedPort()}`,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token,
      startTimeoutMs: 10_000,
      timers,
    });
    const started = timers.now();
    await assert.rejects(down.start(), (err: WeftError) => {
      assert.equal(err.code, 'WEFT_SERVER_UNAVAILABLE');
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    const waited = timers.now() - started;
    assert.ok(waited > 3_000 && waited <= 10_000, `gave up after ${waited} ms of (fake) retrying`);
  });

  test('start waits for a control plane that comes up late', async (t) => {
    const { tokens, server } = await controlPlane(t);
    server.unavailable = true;
    const timers = new FakeTimers();
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token,
      timers,
    });
    t.after(() => identity.close());
    const starting = identity.start();
    while (server.requests < 3) await new Promise((r) => setImmediate(r));
    server.unavailable = false;
    assert.equal((await starting).spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
  });

  test('a token file is re-read for every request', async (t) => {
    const { tokens, server, dataDir } = await controlPlane(t);
    const file = join(dataDir, 'token');
    await writeFile(file, 'stale-token\n', { mode: 0o600 });
    const identity = new WorkloadIdentity({ server: server.url, token: { file }, timers: new FakeTimers() });
    t.after(() => identity.close());
    await assert.rejects(identity.start(), (err: WeftError) => err.code === 'WEFT_UNAUTHORIZED');
    await writeFile(file, `${tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token}\n`);
    assert.equal((await identity.start()).spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
    const missing = new WorkloadIdentity({ server: server.url, token: { file: join(dataDir, 'nope') } });
    await assert.rejects(missing.start(), /cannot read the bootstrap token file/);
  });

  test('with real timers, a short-lived certificate rotates by itself', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const identity = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token,
      ttlMs: 10_000,
      renewFraction: 0.05, // renew after about half a second
      jitterFraction: 0,
    });
    t.after(() => identity.close());
    const first = await identity.start();
    const second = await new Promise<IdentitySnapshot>((resolve) => identity.onRotate(resolve));
    assert.notEqual(second.serialNumber, first.serialNumber);
  });

  test('a TLS server that swaps its context on rotation keeps open connections and serves the new certificate', async (t) => {
    const { tokens, server } = await controlPlane(t);
    const timers = new FakeTimers();
    const serverId = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'server' }).token,
      timers,
    });
    const clientId = new WorkloadIdentity({
      server: server.url,
      token: tokens.mint({ namespace: 'a', serviceAccount: 'client' }).token,
      timers: new FakeTimers(),
    });
    t.after(() => serverId.close());
    t.after(() => clientId.close());
    await serverId.start();
    await clientId.start();
    const srv = tls.createServer({ ...serverId.tlsOptions(), requestCert: true, rejectUnauthorized: true });
    serverId.onRotate(() => srv.setSecureContext(serverId.tlsOptions()));
    srv.on('secureConnection', (socket) => socket.on('data', (d) => socket.write(d)));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    t.after(() => srv.close());
    const { port } = srv.address() as AddressInfo;
    const dial = async () => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        secureContext: clientId.secureContext(),
        checkServerIdentity: () => undefined,
      });
      t.after(() => socket.destroy());
      await once(socket, 'secureConnect');
      return socket;
    };
    const echo = async (socket: tls.TLSSocket, text: string) => {
      socket.write(text);
      const [data] = await once(socket, 'data');
      return String(data);
    };
    const old = await dial();
    // Node 24 quirk: on a client socket getPeerX509Certificate() answers once only; read it once.
    const oldPeer = old.getPeerX509Certificate()!;
    const oldSerial = oldPeer.serialNumber;
    assert.equal(spiffeIdOfCertificate(oldPeer), 'spiffe://cluster.local/ns/a/sa/server');
    const rotation = new Promise((resolve) => serverId.onRotate(resolve));
    timers.fire(timers.only().id);
    await rotation;
    assert.equal(await echo(old, 'still here'), 'still here', 'the connection opened before rotation works');
    const fresh = await dial();
    const freshSerial = fresh.getPeerX509Certificate()!.serialNumber;
    assert.notEqual(freshSerial, oldSerial);
    assert.equal(freshSerial, serverId.current().serialNumber);
    assert.equal(await echo(fresh, 'new'), 'new');
  });
});
