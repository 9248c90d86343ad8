// Opaque TCP through CONNECT (HTTP/1.1 and HTTP/2) and an inbound tcp_proxy: multi-MiB transfers arrive intact both ways, and the tunnel's cluster stats count.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { coreWith, inboundListener, outboundListener, staticCluster, vhost } from './fixtures.ts';

/** Bytes moved per direction in each transfer (several socket buffers and TLS-record sizes). */
const SIZE = 8 * 1024 * 1024;

let core: ProxyCore;
let out: number;
let bulk: net.Server;

/**
 * The app: "\0UP n\n" then n bytes → answers the sha256 hex of those bytes and ends;
 * "\0DOWN n\n" → sends n random bytes followed by their sha256 hex, and ends.
 */
function startBulkServer(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    let left = -1;
    const hash = createHash('sha256');
    socket.on('data', (chunk: Buffer) => {
      if (left < 0) {
        head = Buffer.concat([head, chunk]);
        const eol = head.indexOf(10);
        if (eol < 0) return;
        const m = /^\0(UP|DOWN) (\d+)$/.exec(head.toString('latin1', 0, eol));
        if (!m) return void socket.destroy();
        const n = Number(m[2]);
        if (m[1] === 'DOWN') return void sendRandom(socket, n);
        left = n;
        chunk = head.subarray(eol + 1);
      }
      hash.update(chunk);
      left -= chunk.length;
      if (left === 0) socket.end(`${hash.digest('hex')}\n`);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function sendRandom(socket: net.Socket, n: number): void {
  const hash = createHash('sha256');
  const next = () => {
    while (n > 0) {
      const chunk = randomBytes(Math.min(n, 100_003));
      n -= chunk.length;
      hash.update(chunk);
      if (!socket.write(chunk)) return void socket.once('drain', next);
    }
    socket.end(hash.digest('hex'));
  };
  next();
}

/** Reads a stream to its end and returns everything it sent. */
function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** Uploads SIZE random bytes through `tunnel` and checks the app's digest of what it received. */
async function upload(tunnel: net.Socket | http2.ClientHttp2Stream): Promise<void> {
  const data = randomBytes(SIZE);
  const reply = readAll(tunnel);
  tunnel.write(`\0UP ${SIZE}\n`);
  // Uneven writes, so chunk boundaries never line up with the proxy's reads.
  for (let at = 0; at < SIZE; at += 65_521) tunnel.write(data.subarray(at, at + 65_521));
  tunnel.end();
  const text = (await reply).toString('latin1');
  assert.equal(text, `${createHash('sha256').update(data).digest('hex')}\n`);
}

/** Downloads SIZE random bytes through `tunnel` and checks them against the app's digest. */
async function download(tunnel: net.Socket | http2.ClientHttp2Stream): Promise<void> {
  const reply = readAll(tunnel);
  tunnel.end(`\0DOWN ${SIZE}\n`);
  const got = await reply;
  assert.equal(got.length, SIZE + 64);
  const digest = got.subarray(SIZE).toString('latin1');
  assert.equal(createHash('sha256').update(got.subarray(0, SIZE)).digest('hex'), digest);
}

/** An HTTP/1.1 CONNECT to the outbound listener; resolves with the socket once 200 arrived. */
function h1Tunnel(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: out, host: '127.0.0.1', allowHalfOpen: true }, () =>
      s.write('CONNECT bulk:9000 HTTP/1.1\r\nhost: bulk:9000\r\n\r\n'),
    );
    let head = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      if (!head.toString('latin1', 0, end).startsWith('HTTP/1.1 200')) {
        s.destroy();
        reject(new Error(`CONNECT answered ${head.toString('latin1', 0, end)}`));
        return;
      }
      if (head.length > end + 4) s.unshift(head.subarray(end + 4));
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

/** An HTTP/2 (h2c) CONNECT stream to the outbound listener, after its 200. */
async function h2Tunnel(session: http2.ClientHttp2Session): Promise<http2.ClientHttp2Stream> {
  const stream = session.request({ ':method': 'CONNECT', ':authority': 'bulk:9000' });
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  assert.equal(headers[':status'], 200);
  return stream;
}

before(async () => {
  bulk = await startBulkServer();
  const bulkPort = (bulk.address() as net.AddressInfo).port;
  const routes = {
    name: 'outbound',
    virtualHosts: [
      vhost('bulk', 9000, [
        {
          name: 'connect',
          match: { connectMatcher: {} },
          route: { cluster: 'tcp-in', upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] },
        },
      ]),
    ],
  };
  const clusters = [staticCluster('inbound|9000||', [{ port: bulkPort }])];
  core = await coreWith({
    listeners: [outboundListener(0), inboundListener(0, 9000)],
    clusters,
    routes: [routes],
  });
  out = core.listeners.get('outbound')!.port;
  // The tunnel's cluster points at the proxy's own inbound listener (its tcp_proxy default chain).
  const inbound = core.listeners.get('inbound')!.port;
  const all = [...clusters, staticCluster('tcp-in', [{ port: inbound }])];
  await core.apply(
    TYPE_URL.cluster,
    all.map((body) => ({ name: String(body.name), body })),
    '2',
    true,
  );
});

after(async () => {
  core?.destroy();
  await new Promise<void>((r) => bulk.close(() => r()));
});

test('HTTP/1.1 CONNECT to tcp_proxy: 8 MiB each way arrive intact', async () => {
  await upload(await h1Tunnel());
  await download(await h1Tunnel());
});

test('HTTP/2 CONNECT to tcp_proxy: 8 MiB each way arrive intact; the tunnel counts in the cluster stats', async (t) => {
  const session = http2.connect(`http://127.0.0.1:${out}`);
  t.after(() => session.close());
  const stats = core.clusters.get('tcp-in')!.stats;
  const cxBefore = stats.cxTotal;
  const okBefore = stats.rqByClass[2];
  await upload(await h2Tunnel(session));
  await download(await h2Tunnel(session));
  assert.equal(stats.cxTotal - cxBefore, 2, 'one upstream connection per tunnel');
  assert.equal(stats.rqByClass[2] - okBefore, 2, 'each tunnel counted as a 2xx');
  // Both tunnels' upstream connections close once their streams end.
  for (let i = 0; i < 100 && stats.cxActive > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(stats.cxActive, 0);
});

test('HTTP/2 CONNECT to a cluster whose host refuses counts a connect failure and answers 503', async (t) => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const bulkPort = (bulk.address() as net.AddressInfo).port;
  const inbound = core.listeners.get('inbound')!.port;
  const clusters = [
    staticCluster('inbound|9000||', [{ port: bulkPort }]),
    staticCluster('tcp-in', [{ port: deadPort }]),
  ];
  await core.apply(
    TYPE_URL.cluster,
    clusters.map((body) => ({ name: String(body.name), body })),
    '3',
    true,
  );
  t.after(() =>
    core.apply(
      TYPE_URL.cluster,
      [clusters[0], staticCluster('tcp-in', [{ port: inbound }])].map((body) => ({
        name: String(body.name),
        body,
      })),
      '4',
      true,
    ),
  );
  const session = http2.connect(`http://127.0.0.1:${out}`);
  t.after(() => session.close());
  const stats = core.clusters.get('tcp-in')!.stats;
  const failBefore = stats.cxConnectFail;
  const stream = session.request({ ':method': 'CONNECT', ':authority': 'bulk:9000' });
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  assert.equal(headers[':status'], 503);
  stream.resume();
  assert.equal(stats.cxConnectFail - failBefore, 1);
});

test('tcp_proxy: a reader that stalls mid-transfer still gets every byte intact', async () => {
  // The stall fills the socket buffers, so the proxy's writes stop completing at once and its
  // reused upstream read buffer must not be refilled before each pending write is done.
  const inbound = core.listeners.get('inbound')!.port;
  const s = net.connect({ port: inbound, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  const parts: Buffer[] = [];
  let received = 0;
  let stalled = false;
  const got = new Promise<Buffer>((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      parts.push(c);
      received += c.length;
      if (!stalled && received > 1024 * 1024) {
        stalled = true;
        s.pause();
        setTimeout(() => s.resume(), 300);
      }
    });
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  s.end(`\0DOWN ${SIZE}\n`);
  const all = await got;
  assert.ok(stalled);
  assert.equal(all.length, SIZE + 64);
  assert.equal(
    createHash('sha256').update(all.subarray(0, SIZE)).digest('hex'),
    all.subarray(SIZE).toString('latin1'),
  );
});
