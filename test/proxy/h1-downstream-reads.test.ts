// HTTP/1.1 downstream connections read into one shared buffer: what a request keeps survives other connections' reads.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, type EchoReply, startHttpEcho } from '../helpers/echo.ts';
import { coreWith, outboundListener, staticCluster, untilClosed, vhost } from './fixtures.ts';

let core: ProxyCore;
let app: Echo;
let port: number;

before(async () => {
  app = await startHttpEcho('app');
  core = await coreWith({
    listeners: [outboundListener(0)],
    clusters: [staticCluster('svc-a', [{ port: app.port }])],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [vhost('a', 80, [{ match: { prefix: '/' }, route: { cluster: 'svc-a' } }])],
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

function open(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.on('error', reject);
  });
}

/** The JSON bodies of the echo's answers (each one chunk), in order. */
function replies(text: string): EchoReply[] {
  return [...text.matchAll(/\r\n\r\n(?:[0-9a-f]+\r\n)?(\{.*?"httpVersion":"[\d.]+"\})/g)].map(
    (m) => JSON.parse(m[1]) as EchoReply,
  );
}

/** Sends one request and waits for its whole answer (the echo's JSON in one chunk). */
function exchange(s: net.Socket, path: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString('latin1');
      if (!seen.endsWith('}\r\n0\r\n\r\n')) return;
      s.off('data', onData);
      resolve();
    };
    s.on('data', onData);
    s.write(`GET ${path} HTTP/1.1\r\nhost: a\r\n\r\n`);
  });
}

const EMPTY_SHA = createHash('sha256').digest('hex');

test('a partial head, body pieces and pipelined bytes stay intact while other connections read', async () => {
  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
  const sha = createHash('sha256').update(body).digest('hex');
  const [upload, partial, piped, noisy] = await Promise.all([open(), open(), open(), open()]);
  // A connection's first bytes reach the codec another way (protocol sniffing): one exchange each first.
  for (const s of [upload, partial, piped, noisy]) await exchange(s, '/warm');
  const done = [upload, partial, piped, noisy].map((s) => untilClosed(s, 20_000));
  // Another connection's reads land between every piece of the others (each one its own read).
  const noise = async () => {
    noisy.write(
      'GET /noise HTTP/1.1\r\nhost: a\r\nx-fill: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n\r\n',
    );
    await sleep(15);
  };
  partial.write('GET /part');
  // Kept while the response to /delay is under way.
  piped.write('GET /delay/200 HTTP/1.1\r\nhost: a\r\n\r\n');
  await noise();
  piped.write('GET /second HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
  upload.write(`POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: ${body.length}\r\n\r\n`);
  for (let off = 0; off < body.length; off += 50_000) {
    await noise();
    upload.write(body.subarray(off, off + 50_000));
  }
  await noise();
  partial.write('ial HTTP/1.1\r\nhost: a\r\n\r\nPOST /piped HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n');
  await noise();
  partial.write('connection: close\r\n\r\nhel');
  await noise();
  partial.end('lo');
  upload.end('GET /after HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
  await noise();
  noisy.end('GET /last HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');

  const [up, part, pipe, noisyReplies] = (await Promise.all(done)).map(replies);
  const summary = (rs: EchoReply[]) => rs.map((r) => [r.url, r.bytes, r.sha256]);
  assert.deepEqual(summary(up), [
    ['/upload', body.length, sha],
    ['/after', 0, EMPTY_SHA],
  ]);
  assert.deepEqual(summary(part), [
    ['/partial', 0, EMPTY_SHA],
    ['/piped', 5, createHash('sha256').update('hello').digest('hex')],
  ]);
  assert.deepEqual(summary(pipe), [
    ['/delay/200', 0, EMPTY_SHA],
    ['/second', 0, EMPTY_SHA],
  ]);
  assert.ok(noisyReplies.length >= 10, `every noise request answered: ${noisyReplies.length}`);
  assert.ok(noisyReplies.every((r) => r.url === '/noise' || r.url === '/last'));
});
