// ReadForwarder: accepted TCP and TLS server sockets read into the connection's own buffers, every byte intact past a stalling target.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, Writable } from 'node:stream';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { type ForwardSizes, ReadForwarder } from '../../src/proxy/common/read-forwarder.ts';
import { splice } from '../../src/proxy/common/splice.ts';
import { makeCertificates } from '../helpers/openssl-certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-read-forwarder-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `n` bytes whose every 4-byte word is its own offset, so a reordered or overwritten chunk shows. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE(i, i);
  return b;
}

/** A target that takes every 7th write only after a delay (a slow peer), keeping what it got. */
function stallingTarget(got: Buffer[]): Writable {
  let n = 0;
  return new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      // Copied: the forwarder may reuse the buffer once this write has completed.
      got.push(Buffer.from(chunk));
      if (++n % 7 === 0) setTimeout(callback, 2);
      else callback();
    },
  });
}

/** Adopts the first connection `server` accepts into a stalling target; resolves with the writes it received. */
function forwardFirst(
  server: net.Server | tls.Server,
  event: string,
  sizes?: ForwardSizes,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    server.once(event, (socket: net.Socket) => {
      const got: Buffer[] = [];
      const target = stallingTarget(got);
      const early = new ReadForwarder(sizes).adopt(socket, target);
      if (early === undefined) return reject(new Error('socket was not adopted'));
      if (early.length > 0) target.write(early);
      socket.once('end', () => target.end());
      target.once('finish', () => resolve(got));
      socket.resume();
    });
  });
}

test('this Node offers what adopting a socket needs (a Node upgrade that removes it fails here)', () => {
  assert.equal(ReadForwarder.supported, true);
});

test('an accepted TCP socket: what it had buffered comes first, then every read, in order', async (t) => {
  const server = net.createServer({ pauseOnConnect: false });
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const data = pattern(8 * 1024 * 1024);
  const received = forwardFirst(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => client.end(data));
  client.on('error', () => {});
  assert.ok(Buffer.concat(await received).equals(data), 'received bytes equal the sent ones');
});

test('a TLS server socket: records gather into bigger writes; those decrypted after the target stalled land beside the queued bytes or in spare buffers, nothing overwritten', async (t) => {
  const files = makeCertificates(dir, 'fwd', ['localhost']);
  const server = tls.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) });
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const data = pattern(8 * 1024 * 1024);
  const received = forwardFirst(server, 'secureConnection', { buffer: 64 * 1024, read: 16 * 1024 });
  const port = (server.address() as net.AddressInfo).port;
  const client = tls.connect(
    { port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(files.ca) },
    () => client.end(data),
  );
  client.on('error', () => {});
  const writes = await received;
  assert.ok(Buffer.concat(writes).equals(data), 'received bytes equal the sent ones');
  // A TLS read is one record (at most 16 KiB): a bigger write holds records gathered in one turn.
  const biggest = Math.max(...writes.map((w) => w.length));
  assert.ok(biggest > 16 * 1024, `records were gathered (biggest write ${biggest} bytes)`);
  assert.ok(biggest <= 64 * 1024, `no write is bigger than the buffer (biggest ${biggest} bytes)`);
});

test('a stream without a native handle is not adopted and stays as it was', () => {
  const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  assert.equal(new ReadForwarder().adopt(stream, new Writable({ write: (_c, _e, cb) => cb() })), undefined);
});

/** Resolves with everything `socket` receives until its end. */
function collect(socket: net.Socket): Promise<Buffer> {
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(got)));
    socket.once('error', reject);
  });
}

test('splice: a bulk TLS ⇄ TCP tunnel switches both sockets to own buffers mid-transfer, every byte intact both ways', async (t) => {
  const files = makeCertificates(dir, 'splice', ['localhost']);
  const data = pattern(6 * 1024 * 1024);
  const back = pattern(5 * 1024 * 1024);
  // The app behind the tunnel: sends `back`, keeps what it gets.
  const app = net.createServer({ allowHalfOpen: true }, (s) => {
    s.end(back);
    appGot = collect(s);
  });
  let appGot: Promise<Buffer> | undefined;
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const sides: net.Socket[] = [];
  const front = tls.createServer(
    { cert: readFileSync(files.cert), key: readFileSync(files.key), allowHalfOpen: true },
    (secure) => {
      const up = net.connect({
        port: (app.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        allowHalfOpen: true,
      });
      sides.push(secure, up);
      splice(secure, up);
    },
  );
  t.after(() => {
    front.close();
    app.close();
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as net.AddressInfo).port;
  const client = tls.connect({
    port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: readFileSync(files.ca),
  });
  const clientGot = collect(client);
  client.end(data);
  assert.ok((await clientGot).equals(back), 'the client got every byte the app sent');
  assert.ok((await appGot)?.equals(data), 'the app got every byte the client sent');
  assert.ok(
    sides.length === 2 && sides.every((s) => ReadForwarder.owns(s)),
    'both sides read into own buffers',
  );
});

test('splice: a tunnel that moves little keeps Node’s own reads (holds no buffer)', async (t) => {
  const app = net.createServer({ allowHalfOpen: true }, (s) => s.end('pong'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const sides: net.Socket[] = [];
  const front = net.createServer({ allowHalfOpen: true }, (down) => {
    const up = net.connect({
      port: (app.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      allowHalfOpen: true,
    });
    sides.push(down, up);
    splice(down, up);
  });
  t.after(() => {
    front.close();
    app.close();
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const client = net.connect({
    port: (front.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  const got = collect(client);
  client.end('ping');
  assert.equal((await got).toString(), 'pong');
  assert.ok(sides.length === 2 && sides.every((s) => !ReadForwarder.owns(s)), 'neither side was switched');
});
