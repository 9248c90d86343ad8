// Request smuggling and policy bypass attempts with raw sockets against a real inbound listener and a lenient app.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { h2request } from '../helpers/http-client.ts';
import { inboundCore } from './inbound-core.ts';

/**
 * A deliberately lenient app: it records every byte it receives and answers 200 to each blank
 * line it sees (so a bare-LF or smuggled head gets an answer, as a sloppy server would give).
 */
class LenientApp {
  readonly server = net.createServer((socket) => {
    let first = true;
    let stray = false;
    socket.on('data', (d) => {
      // A TLS ClientHello is never the proxy's (it speaks plaintext to the app): it is another process's
      // connection to a port this app reuses, and its bytes would spoil the assertions on what arrived.
      if (first) stray = d[0] === 0x16;
      first = false;
      if (stray) return;
      this.received += d.toString('latin1');
      const heads = d.toString('latin1').split(/\r?\n\r?\n/).length - 1;
      for (let i = 0; i < heads; i++) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('error', () => {});
  });
  received = '';
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
}

/** Writes `bytes` on a fresh connection and resolves with everything read until the proxy closes or 2 s pass. */
function raw(port: number, bytes: string | string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    socket.on('connect', async () => {
      for (const p of parts) {
        socket.write(p, 'latin1');
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    // Bounded: a proxy that keeps the connection open after its answer is read for 2 s, then closed.
    setTimeout(() => socket.destroy(), 2000);
  });
}

const PLAINTEXT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: plaintext, namespace: shop}
spec: {mtls: {mode: DISABLE}}
`;

const DENY_ADMIN = `${PLAINTEXT}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
`;

for (const [name, policies] of [
  ['a DENY /admin* policy', DENY_ADMIN],
  ['no policy (a TCP fallback chain exists)', PLAINTEXT],
] as const) {
  describe(`raw-socket attacks on an inbound listener with ${name}`, () => {
    const app = new LenientApp();
    let core: ProxyCore;
    let port = 0;
    before(async () => {
      await app.start();
      core = await inboundCore(policies, app.port);
      port = core.listeners.get('inbound')!.port;
    });
    after(async () => {
      core?.destroy();
      await new Promise((resolve) => app.server.close(resolve));
    });

    const refused: [string, string | string[]][] = [
      [
        'HTAB + bare LF smuggling',
        'GET /ok\tHTTP/1.1\nHost: cart\n\nGET /admin HTTP/1.1\r\nHost: cart\r\n\r\n',
      ],
      ['a bare-LF head', 'GET /admin HTTP/1.1\nHost: cart\n\n'],
      ['a lowercase method', 'get /admin HTTP/1.1\r\nHost: cart\r\n\r\n'],
      ['HTTP/0.9', 'GET /admin\r\n\r\n'],
      ['a NUL in the target', 'GET /x\x00/admin HTTP/1.1\r\nHost: cart\r\n\r\n'],
      ['a CR in a header value', 'GET /x HTTP/1.1\r\nHost: cart\r\nX-A: a\rb\r\n\r\n'],
      ['a request line sent in two pieces', ['GE', 'T /admin\x01 HTTP/1.1\r\nHost: cart\r\n\r\n']],
      [
        'a chunk size that hides a second request',
        'POST /x HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5\nhello\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: cart\r\n\r\n',
      ],
    ];
    for (const [what, bytes] of refused) {
      test(`${what}: 400, and the app sees no /admin`, async () => {
        const before = app.received.length;
        const answer = await raw(port, bytes);
        assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(answer));
        assert.doesNotMatch(app.received.slice(before), /admin/);
      });
    }

    test('HTTP/1.0 is served as HTTP through the filters, and chunked bodies are re-framed', async () => {
      let before = app.received.length;
      const ok = await raw(port, 'GET /items HTTP/1.0\r\nHost: cart\r\n\r\n');
      assert.match(ok, /^HTTP\/1\.[01] 200 OK\r\n/, ok);
      assert.match(
        app.received.slice(before),
        /x-request-id: /i,
        'it went through the HTTP connection manager',
      );
      before = app.received.length;
      await raw(
        port,
        'POST /x HTTP/1.1\r\nHost: cart\r\nTransfer-Encoding: chunked\r\n\r\n005;ext="a"\r\nhello\r\n0\r\n\r\n',
      );
      const sent = app.received.slice(before);
      assert.match(sent, /\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/, JSON.stringify(sent));
    });

    if (policies === DENY_ADMIN) {
      test('/admin#x and /admin?x are denied over HTTP/1.1 and HTTP/2', async () => {
        const before = app.received.length;
        assert.match(await raw(port, 'GET /admin#x HTTP/1.1\r\nHost: cart\r\n\r\n'), /^HTTP\/1\.1 403 /);
        assert.match(await raw(port, 'GET /admin HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 403 /);
        assert.equal((await h2request(port, { authority: 'cart', path: '/admin#x' })).status, 403);
        assert.doesNotMatch(app.received.slice(before), /admin/);
      });
    }
  });
}
