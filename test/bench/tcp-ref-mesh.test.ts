// The reference mesh pairs of bench/tcp.ts (HAProxy, Node.js relays) carry bulk TCP both ways and refuse a hop client without a certificate, with weft's TLS 1.3 suite order.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tls from 'node:tls';
import { REPO } from '../../bench/lib/context.ts';
import { freePort } from '../../bench/lib/ports.ts';
import { type Child, runCommand, startChild, stopAll } from '../../bench/lib/processes.ts';
import type { TcpClientReport } from '../../bench/lib/tcp-bulk-client.ts';
import {
  type MeshCerts,
  makeCerts,
  type RefPair,
  startHaproxyPair,
  startNodeRelayPair,
} from '../../bench/lib/tcp-ref-mesh.ts';
import { quickContext } from './quick-context.ts';

const ctx = quickContext('weft-tcp-ref-');
let backend: Child;
let backendPort: number;
let certs: MeshCerts;

before(async () => {
  backendPort = await freePort();
  backend = await startChild({
    name: 'tcp-bulk',
    command: process.execPath,
    args: [join(REPO, 'bench', 'lib', 'tcp-bulk-server.ts'), String(backendPort)],
    readyLine: /tcp-bulk ready/,
  });
  certs = makeCerts(ctx);
});

after(async () => {
  await backend?.stop();
  await stopAll();
  rmSync(ctx.tmp, { recursive: true, force: true });
});

async function transfer(
  port: number,
  direction: 'download' | 'upload',
  bytes: number,
): Promise<TcpClientReport> {
  const config = JSON.stringify({ port, direction, bytes });
  const client = join(REPO, 'bench', 'lib', 'tcp-bulk-client.ts');
  const r = await runCommand('tcp client', process.execPath, [client, config], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `the transfer failed (or hit its 60 s bound): ${r.stderr}`);
  return JSON.parse(r.stdout) as TcpClientReport;
}

/** A TLS client without a certificate gets no byte of the backend's answer from the server side. */
function withoutCertificate(hopPort: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: hopPort, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('no answer within 10 s');
    }, 10_000);
    let received = 0;
    socket.on('secureConnect', () => socket.write('GET 1000\n'));
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received > 0 ? `received ${received} bytes` : 'closed');
    });
  });
}

/** The suite the server side picks for a client offering Node's default order (AES-256-GCM first). */
function negotiatedSuite(hopPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: hopPort,
      servername: 'server.mesh',
      ca: readFileSync(certs.ca),
      cert: readFileSync(certs.client.cert),
      key: readFileSync(certs.client.key),
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no TLS handshake within 10 s')));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      resolve(socket.getCipher().standardName);
      socket.destroy();
    });
  });
}

async function checkPair(start: () => Promise<RefPair>): Promise<void> {
  const pair = await start();
  try {
    const bytes = 8 * 1024 * 1024;
    assert.equal((await transfer(pair.port, 'download', bytes)).bytes, bytes);
    assert.equal((await transfer(pair.port, 'upload', bytes)).bytes, bytes);
    assert.equal(await withoutCertificate(pair.hopPort), 'closed');
    assert.equal(await negotiatedSuite(pair.hopPort), 'TLS_AES_128_GCM_SHA256');
  } finally {
    await pair.stop();
  }
}

test('the Node.js relay pair moves bulk TCP both ways over mTLS', { timeout: 120_000 }, () =>
  checkPair(() => startNodeRelayPair(ctx, certs, backendPort)),
);

test('the HAProxy pair moves bulk TCP both ways over mTLS', { timeout: 120_000 }, () => {
  assert.ok(ctx.tools.haproxy, 'haproxy is not installed (.ci/run installs it)');
  return checkPair(() => startHaproxyPair(ctx, certs, backendPort));
});
