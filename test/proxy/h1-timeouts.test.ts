// HTTP/1.1 downstream timeouts when idle_timeout is longer than stream_idle_timeout (one socket timer at the shorter).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { coreWith, outboundListener, staticCluster, untilClosed, vhost } from './fixtures.ts';

const STREAM_IDLE_MS = 300;
const IDLE_MS = 10_000;

let app: Echo;
let core: ProxyCore;
let port = 0;

before(async () => {
  app = await startHttpEcho('app');
  const listener = outboundListener(0);
  const hcm = (listener.filterChains as { filters: { typedConfig: Record<string, unknown> }[] }[])[0]
    .filters[0].typedConfig;
  Object.assign(hcm, {
    streamIdleTimeout: { nanos: STREAM_IDLE_MS * 1e6 },
    commonHttpProtocolOptions: { idleTimeout: { seconds: IDLE_MS / 1000 } },
  });
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a keep-alive connection outlives stream_idle_timeout while idle, and its next request still gets it', async () => {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  let text = '';
  socket.on('data', (d) => (text += d.toString('latin1')));
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.write('GET /first HTTP/1.1\r\nhost: app\r\n\r\n');
  for (let i = 0; i < 200 && !text.includes('"url":"/first"'); i++) await sleep(25);
  assert.match(text, /^HTTP\/1\.1 200 /, 'the first request is answered');
  // The socket's timer fires at stream_idle_timeout; idle, the connection waits for idle_timeout.
  await sleep(STREAM_IDLE_MS * 3);
  assert.equal(closed, false, 'an idle connection is not closed at stream_idle_timeout');
  const sent = Date.now();
  const done = untilClosed(socket, IDLE_MS / 2);
  socket.write('POST /stalled HTTP/1.1\r\nhost: app\r\ncontent-length: 100\r\n\r\nonly a part');
  const out = await done;
  assert.match(
    out,
    /HTTP\/1\.1 408 Request Timeout\r\n/,
    'the stalled request ends with 408 (stream_idle_timeout)',
  );
  assert.ok(Date.now() - sent >= STREAM_IDLE_MS - 50, 'not before stream_idle_timeout');
});
