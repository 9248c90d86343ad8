// A listener change while a new connection's first bytes are on their way: the request is served under the new config, never cut.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { coreWith, outboundListener, staticCluster, vhost } from './fixtures.ts';

let core: ProxyCore;
let app: Echo;
let port: number;
let generation = 1;

const ROUTES = {
  name: 'outbound',
  virtualHosts: [vhost('a', 80, [{ match: { prefix: '/' }, route: { cluster: 'a' } }])],
};

before(async () => {
  app = await startHttpEcho('a');
  core = await coreWith({
    listeners: [listenerWithPrefix('outbound')],
    clusters: [staticCluster('a', [{ port: app.port }])],
    routes: [ROUTES],
  });
  port = core.listeners.get('outbound')!.port;
});

after(async () => {
  core.listeners.drain();
  await app.close();
});

/** The outbound listener with this stat prefix. */
function listenerWithPrefix(prefix: string): ReturnType<typeof outboundListener> {
  const listener = outboundListener(0);
  const chains = listener.filterChains as { filters: { typedConfig: Record<string, unknown> }[] }[];
  chains[0].filters[0].typedConfig.statPrefix = prefix;
  return listener;
}

/** Re-applies the outbound listener with another stat prefix: a changed listener. */
async function changeListener(): Promise<void> {
  generation++;
  const listener = listenerWithPrefix(`outbound_changed_${generation}`);
  await core.apply(TYPE_URL.listener, [{ name: 'outbound', body: listener }], String(generation), true);
}

/** Connects and resolves once the listener has accepted the connection (no byte sent yet). */
async function connect(): Promise<net.Socket> {
  const listener = core.listeners.get('outbound')!;
  const before = listener.accepted;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const deadline = Date.now() + 10_000;
  while (listener.accepted <= before) {
    if (Date.now() > deadline) throw new Error('the listener did not accept the connection within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return socket;
}

/** Sends one request with `connection: close`; resolves with all the proxy sent (bounded). */
function exchange(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`no answer within 10 s: ${JSON.stringify(text)}`)),
      10_000,
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.once('error', reject);
    socket.write('GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
  });
}

test('a connection accepted before a listener change, whose request comes after it, is served', async () => {
  for (let i = 0; i < 3; i++) {
    const socket = await connect();
    await changeListener();
    const answer = await exchange(socket);
    assert.match(
      answer,
      /^HTTP\/1\.1 200 /,
      `round ${i}: the request is served, not cut: ${JSON.stringify(answer)}`,
    );
  }
});

/** Sends a keep-alive GET and resolves with the response once complete (content-length or chunked; bounded). */
function keepAliveExchange(socket: net.Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => done(new Error(`no complete answer within 10 s: ${JSON.stringify(text)}`)),
      10_000,
    );
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      const chunkedDone = /\r\ntransfer-encoding: chunked\r\n/i.test(text) && text.endsWith('\r\n0\r\n\r\n');
      if (end >= 0 && (chunkedDone || (length && text.length >= end + 4 + Number(length[1])))) done();
    };
    const onClose = () =>
      done(new Error(`the connection closed before a complete answer: ${JSON.stringify(text)}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(text);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: a\r\n\r\n`);
  });
}

test('a kept-alive connection idle at a listener change is served by the new config, not closed', async () => {
  const socket = await connect();
  socket.on('error', () => {});
  const first = await keepAliveExchange(socket, '/before');
  assert.match(first, /^HTTP\/1\.1 200 /);
  await changeListener();
  const stats = core.httpStats.get(`outbound_changed_${generation}`);
  // Sent right after the change, as a client reusing its idle connection would: answered, not reset.
  for (const path of ['/after', '/after-again']) {
    const answer = await keepAliveExchange(socket, path);
    assert.match(answer, /^HTTP\/1\.1 200 /, path);
    assert.doesNotMatch(answer, /\r\nconnection: close/i, `${path}: the connection is kept`);
  }
  assert.equal(stats.rqTotal, 2, 'both requests went through the new config');
  socket.destroy();
});
