// HTTP/1.1 upstream connections: body bytes a handler keeps are never overwritten by a later read of this or another connection.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { H1Connection, type H1ResponseHandler } from '../../src/proxy/cluster/pool/h1-connection.ts';

/**
 * A handler that keeps every body chunk it is lent (as a queued socket write does) and resolves at
 * the end; borrowed bytes (the shared read buffer's) it copies, as the contract asks.
 */
function keeper(kept: Buffer[], done: () => void): H1ResponseHandler {
  return {
    onUpstreamAssigned() {},
    onUpstreamReady(conn) {
      conn.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    },
    onUpstreamInformational() {},
    onUpstreamFlush() {},
    onUpstreamHead() {},
    onUpstreamBody(_conn, chunk, borrowed) {
      kept.push(borrowed ? Buffer.from(chunk) : chunk);
      return !borrowed;
    },
    onUpstreamEnd() {
      done();
    },
    onUpstreamUpgrade() {},
    onUpstreamFailure(_c, f, d) {
      throw new Error(`${f}: ${d}`);
    },
  };
}

test('body bytes one connection lent stay intact while another connection reads its next response', async (t) => {
  // Each connection's responses carry its own byte: 'a' for the first connection, 'b' for the second.
  let n = 0;
  const server = net.createServer((s) => {
    const fill = n++ === 0 ? 'a' : 'b';
    s.on('data', () => s.write(`HTTP/1.1 200 OK\r\ncontent-length: 30000\r\n\r\n${fill.repeat(30000)}`));
  });
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const owner = { connectionClosed() {} };
  const exchange = (conn: H1Connection, kept: Buffer[]) =>
    new Promise<void>((resolve) => {
      const reused = conn.served > 0;
      conn.attach(keeper(kept, resolve), false, false);
      if (reused) conn.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  const a = new H1Connection('127.0.0.1', port, 1000, owner);
  const b = new H1Connection('127.0.0.1', port, 1000, owner);
  t.after(() => {
    a.destroy();
    b.destroy();
  });
  const keptA: Buffer[] = [];
  const keptB: Buffer[] = [];
  await exchange(a, keptA); // a connects first: its server side answers 'a'
  await exchange(b, keptB); // b's next read is set up now
  a.detach();
  b.detach();
  const keptA2: Buffer[] = [];
  await exchange(a, keptA2); // a's body is kept (as a queued socket write keeps it)
  const before = Buffer.concat(keptA2).toString('latin1');
  b.detach();
  const keptB2: Buffer[] = [];
  await exchange(b, keptB2); // b reads its next 'b' response
  assert.equal(before, 'a'.repeat(30000));
  assert.ok(Buffer.concat(keptA2).toString('latin1') === before, "a's kept body is unchanged after b's read");
  assert.ok(Buffer.concat(keptB2).toString('latin1') === 'b'.repeat(30000), "b's body is its own");
});

test('a body of many reads is handed over whole and in order while the handler keeps every piece', async (t) => {
  const body = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i + 4 <= body.length; i += 4) body.writeUInt32LE(i, i);
  const server = net.createServer((s) =>
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
      s.write(body);
    }),
  );
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const conn = new H1Connection('127.0.0.1', (server.address() as net.AddressInfo).port, 1000, {
    connectionClosed() {},
  });
  t.after(() => conn.destroy());
  const kept: Buffer[] = [];
  await new Promise<void>((resolve) => conn.attach(keeper(kept, resolve), false, false));
  assert.ok(Buffer.concat(kept).equals(body), 'every kept piece still holds its bytes');
});
