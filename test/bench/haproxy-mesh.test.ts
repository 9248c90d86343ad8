// The HAProxy mesh pair of the benchmarks (two real HAProxy processes): HTTP through it, and a hop that only a client with a certificate gets an answer from.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { startHaproxyMesh } from '../../bench/lib/haproxy-mesh.ts';
import { probeHttp } from '../../bench/lib/http-probe.ts';
import { stopAll } from '../../bench/lib/processes.ts';
import { quickContext } from './quick-context.ts';

const ctx = quickContext('weft-haproxy-mesh-');
const backend = createServer((_req, res) => res.end('hello from the backend'));

after(async () => {
  await stopAll();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
  rmSync(ctx.tmp, { recursive: true, force: true });
});

/** A GET over TLS to the hop with the client side's certificate; resolves with what came back. */
function getWithCertificate(hopPort: number): Promise<string> {
  const dir = join(ctx.tmp, 'haproxy-mesh');
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = tls.connect({
      host: '127.0.0.1',
      port: hopPort,
      servername: 'server.mesh',
      ca: readFileSync(join(dir, 'mesh-ca.pem')),
      cert: readFileSync(join(dir, 'mesh-client-cert.pem')),
      key: readFileSync(join(dir, 'mesh-client-key.pem')),
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer from the hop within 10 s')));
    socket.on('secureConnect', () =>
      socket.write('GET / HTTP/1.1\r\nhost: server.mesh\r\nconnection: close\r\n\r\n'),
    );
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

test('the HAProxy mesh pair carries HTTP to the backend over a hop that requires a client certificate', {
  skip: ctx.tools.haproxy ? false : 'haproxy is not installed (.ci/run installs it)',
  // Each step has its own bound (start-up 30 s, probes 5-10 s); this one catches what they miss.
  timeout: 90_000,
}, async () => {
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  // startHaproxyMesh itself refuses a hop that answers plaintext or a TLS client without a certificate.
  const mesh = await startHaproxyMesh(ctx, (backend.address() as AddressInfo).port);
  assert.equal(await probeHttp(mesh.port, undefined, 'hello from the backend'.length), 'ok');
  const answer = await getWithCertificate(mesh.hopPort);
  assert.match(answer, /^HTTP\/1\.1 200/, 'with the client certificate the hop answers');
  assert.match(answer, /hello from the backend$/);
});
