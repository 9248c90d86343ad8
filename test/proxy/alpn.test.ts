// ALPN lists as a long-lived socket keeps them: the negotiated protocol is unchanged, and the socket holds no 64 KiB pool slab for them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { alpnProtocols } from '../../src/proxy/tls/alpn.ts';
import { makeCertificates } from '../helpers/openssl-certs.ts';

test('the wire form: each name prefixed by its length; an empty list is no ALPN', () => {
  const view = alpnProtocols(['h2', 'http/1.1']);
  assert.ok(view);
  assert.deepEqual(
    Buffer.from(view.buffer, view.byteOffset, view.byteLength),
    Buffer.from('\x02h2\x08http/1.1', 'latin1'),
  );
  assert.equal(alpnProtocols(['h2', 'http/1.1']), view, 'one view per list');
  assert.equal(alpnProtocols([]), undefined);
});

test('a TLS connection negotiates by it and keeps a buffer of the list size, not a pool slab', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-alpn-'));
  try {
    const { key, cert } = makeCertificates(dir, 'alpn', ['localhost']);
    const server = tls.createServer({
      key: readFileSync(key),
      cert: readFileSync(cert),
      ALPNProtocols: alpnProtocols(['istio-h2', 'h2']),
    });
    server.on('secureConnection', (s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        ALPNProtocols: alpnProtocols(['h2']),
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      assert.equal(socket.alpnProtocol, 'h2');
      const kept = (socket as unknown as { _tlsOptions: { ALPNProtocols: Buffer } })._tlsOptions
        .ALPNProtocols;
      assert.equal(
        kept.buffer.byteLength,
        3,
        'Node copied the list into a buffer pool slab: alpn.ts no longer pays',
      );
      socket.destroy();
    } finally {
      server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
