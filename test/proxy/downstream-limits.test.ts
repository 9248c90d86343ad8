// Downstream timeouts from the HCM (idle, stream idle, request headers, max connection duration) and HTTP/2 rapid reset, on raw sockets.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Listener, type ListenerDeps } from '../../src/proxy/listener/listener.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { coreWith, outboundListener, staticCluster, untilClosed, vhost } from './fixtures.ts';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

describe('downstream timeouts and HTTP/2 limits', () => {
  let app: Echo;
  let core: ProxyCore;
  let port = 0;
  before(async () => {
    app = await startHttpEcho('app');
    const listener = outboundListener(0);
    const hcm = (listener.filterChains as { filters: { typedConfig: Record<string, unknown> }[] }[])[0]
      .filters[0].typedConfig;
    Object.assign(hcm, {
      requestHeadersTimeout: { nanos: 300_000_000 },
      streamIdleTimeout: { nanos: 600_000_000 },
      commonHttpProtocolOptions: {
        idleTimeout: { nanos: 400_000_000 },
        maxConnectionDuration: { seconds: 2 },
      },
    });
    listener.address = { socketAddress: { address: '127.0.0.1', portValue: 0 } };
    core = await coreWith({
      listeners: [listener],
      clusters: [staticCluster('app', [{ port: app.port }])],
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
    await app?.close();
  });

  test('a connection that sends nothing is closed after idle_timeout', async () => {
    const out = await untilClosed(await connect(port), 10_000);
    assert.equal(out, '');
    assert.equal(core.listeners.get('outbound')!.preConnectionTimeouts, 1);
  });

  test('a head sent slowly gets 408 after request_headers_timeout, however often bytes arrive', async () => {
    const socket = await connect(port);
    const drip = setInterval(() => socket.writable && socket.write('X'), 50);
    socket.write('GET / HTTP/1.1\r\nHost: app\r\nX-Slow: ');
    try {
      const out = await untilClosed(socket, 10_000);
      assert.match(out, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      clearInterval(drip);
    }
  });

  test('a request whose body stops arriving ends with 408 after stream_idle_timeout', async () => {
    const socket = await connect(port);
    socket.write('POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 100\r\n\r\nonly a part');
    const out = await untilClosed(socket, 10_000);
    assert.match(out, /HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('HTTP/2: a request whose body stops arriving ends with 408 after stream_idle_timeout; the session stays open meanwhile', async () => {
    const stats = () => core.httpStats.all();
    const idleBefore = stats().reduce((n, s) => n + s.rqIdleTimeout, 0);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    let goaway = false;
    client.on('goaway', () => {
      goaway = true;
    });
    try {
      const req = client.request({
        ':method': 'POST',
        ':path': '/',
        ':authority': 'app',
        'content-length': '100',
      });
      req.on('error', () => {});
      req.write('only a part');
      const bound = setTimeout(() => req.close(), 10_000);
      const status = await new Promise<number>((resolve) => {
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('close', () => resolve(0));
      });
      clearTimeout(bound);
      assert.equal(status, 408, 'answered 408 (0: no answer within 10 s)');
      // idle_timeout (400 ms) counts from the last open stream's end, not from the last frame.
      assert.equal(goaway, false, 'no GOAWAY while the stream was open');
      assert.equal(
        stats().reduce((n, s) => n + s.rqIdleTimeout, 0),
        idleBefore + 1,
      );
    } finally {
      client.destroy();
    }
  });

  test('HTTP/2: a session whose streams are done is closed after idle_timeout', async () => {
    const idleBefore = core.httpStats.all().reduce((n, s) => n + s.cxIdleTimeout, 0);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const req = client.request({ ':path': '/', ':authority': 'app' });
    req.on('error', () => {});
    const status = await new Promise<number>((resolve) => {
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.resume();
      req.end();
    });
    assert.equal(status, 200);
    const bound = setTimeout(() => client.destroy(), 10_000);
    await closed;
    clearTimeout(bound);
    assert.equal(
      core.httpStats.all().reduce((n, s) => n + s.cxIdleTimeout, 0),
      idleBefore + 1,
      'the proxy closed the session for idle_timeout (not the 10 s bound)',
    );
  });

  test('HTTP/2: 100 streams reset as soon as opened lose the connection (rapid reset)', async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    for (let i = 0; i < 200 && !client.destroyed && !client.closed; i++) {
      try {
        const req = client.request({ ':path': '/', ':authority': 'app' });
        req.on('error', () => {});
        req.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        break;
      }
      if (i % 20 === 19) await new Promise((r) => setImmediate(r));
    }
    const timer = setTimeout(() => client.destroy(), 10_000);
    await closed;
    clearTimeout(timer);
    const resets = core.httpStats.all().reduce((n, s) => n + s.rqTooManyPrematureResets, 0);
    assert.equal(
      resets,
      1,
      'the session was closed for rapid reset (downstream_rq_too_many_premature_resets)',
    );
  });
});

test('connections that arrive before the first listener config are held, bounded in number and time', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const listener = new Listener(server, {} as ListenerDeps, { maxHeld: 2, holdTimeoutMs: 300 });
  const port = (server.address() as net.AddressInfo).port;
  const sockets = await Promise.all([connect(port), connect(port), connect(port)]);
  const closed = await Promise.all(sockets.map((s) => untilClosed(s, 10_000)));
  assert.deepEqual(closed, ['', '', '']);
  assert.equal(listener.overflow, 1, 'the third was refused at once');
  assert.equal(listener.preConnectionTimeouts, 2, 'the first two were closed after the hold time');
});
