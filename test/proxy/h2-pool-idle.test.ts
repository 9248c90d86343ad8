// The HTTP/2 upstream pool's idle_timeout, as Envoy's common_http_protocol_options: no open stream for that long, not no frame.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { coreWith, h2OptionsWithIdle, outboundListener, staticCluster, vhost } from './fixtures.ts';

const IDLE_MS = 300;

/** One session the h2c backend saw from the proxy. */
interface SeenSession {
  /** The proxy closed it (GOAWAY). */
  goaway: boolean;
  /** A stream was open on it when the GOAWAY came. */
  goawayWhileStreamOpen: boolean;
}

describe('HTTP/2 upstream pool idle_timeout', () => {
  let backend: http2.Http2Server;
  let core: ProxyCore;
  let port = 0;
  const sessions: SeenSession[] = [];
  /** The session of the last request the backend answered. */
  let last: SeenSession | undefined;
  before(async () => {
    backend = http2.createServer();
    const bySession = new WeakMap<http2.Http2Session, SeenSession>();
    backend.on('session', (session) => {
      const seen: SeenSession = { goaway: false, goawayWhileStreamOpen: false };
      sessions.push(seen);
      bySession.set(session, seen);
      let open = 0;
      session.on('stream', (stream) => {
        open++;
        stream.on('close', () => open--);
      });
      session.on('goaway', () => {
        seen.goaway = true;
        seen.goawayWhileStreamOpen ||= open > 0;
      });
      session.on('error', () => {});
    });
    // /slow answers after 3 idle timeouts without a frame on the session meanwhile.
    backend.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      last = stream.session ? bySession.get(stream.session) : undefined;
      const answer = () => {
        if (!stream.closed) stream.respond({ ':status': 200 }, { endStream: true });
      };
      if (headers[':path'] === '/slow') setTimeout(answer, 3 * IDLE_MS);
      else answer();
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendPort = (backend.address() as net.AddressInfo).port;
    const listener = outboundListener(0);
    listener.address = { socketAddress: { address: '127.0.0.1', portValue: 0 } };
    core = await coreWith({
      listeners: [listener],
      clusters: [
        staticCluster('app', [{ port: backendPort }], {
          typedExtensionProtocolOptions: h2OptionsWithIdle(IDLE_MS),
        }),
      ],
      routes: [
        {
          name: 'outbound',
          virtualHosts: [vhost('app', 80, [{ match: { prefix: '/' }, route: { cluster: 'app' } }])],
        },
      ],
    });
    port = core.listeners.get('outbound')!.port;
  });
  after(async () => {
    core?.destroy();
    await new Promise((resolve) => backend?.close(resolve));
  });

  /** One GET through the proxy (HTTP/1.1 downstream, Host: app), bounded at 10 s. */
  function get(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port, path, headers: { host: 'app' }, timeout: 10_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
      req.on('error', reject);
    });
  }

  test('a session is not closed while a stream is open, however long no frame arrives', async () => {
    assert.equal(await get('/slow'), 200);
    assert.deepEqual(
      sessions.filter((g) => g.goawayWhileStreamOpen),
      [],
      'no GOAWAY reached the backend while the slow stream was open',
    );
  });

  test('a session with no open stream is closed after idle_timeout, and the next request opens a new one', async () => {
    assert.equal(await get('/'), 200);
    const first = last!;
    const deadline = Date.now() + 10_000;
    while (!first.goaway && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(first.goaway, true, 'the idle session was closed (GOAWAY) within 10 s');
    const count = sessions.length;
    assert.equal(await get('/'), 200);
    assert.notEqual(last, first, 'the request after that went on another session');
    assert.equal(sessions.length, count + 1);
  });
});
