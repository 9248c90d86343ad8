// The HTTP/1.1 upstream pool closes a connection that stayed idle longer than the cluster's idle timeout, and keeps a busy one.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { H1Connection, H1ResponseHandler } from '../../src/proxy/cluster/pool/h1-connection.ts';
import { H1Pool } from '../../src/proxy/cluster/pool/h1-pool.ts';
import { ClusterStats } from '../../src/proxy/cluster/stats.ts';

/** A handler that sends one request and gives the connection back when the response ends. */
function oneRequest(pool: H1Pool, done: () => void): H1ResponseHandler {
  return {
    onUpstreamAssigned() {},
    onUpstreamReady(conn) {
      conn.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    },
    onUpstreamInformational() {},
    onUpstreamFlush() {},
    onUpstreamHead() {},
    onUpstreamBody: () => false,
    onUpstreamEnd(conn: H1Connection) {
      pool.release(conn, true);
      done();
    },
    onUpstreamUpgrade() {},
    onUpstreamFailure(_c, f, d) {
      throw new Error(`${f}: ${d}`);
    },
  };
}

test('an idle upstream connection is closed once idle_timeout has passed, not before', async (t) => {
  let closedAt = 0;
  const server = net.createServer((s) => {
    s.on('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    s.on('close', () => {
      closedAt = performance.now();
    });
  });
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const idleTimeoutMs = 400;
  const pool = new H1Pool(
    {
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 5000,
      idleTimeoutMs,
      maxRequestsPerConnection: 0,
      maxConnections: 10,
      maxPendingRequests: 10,
    },
    new ClusterStats(),
  );
  t.after(() => pool.destroy());
  await new Promise<void>((r) => pool.acquire(oneRequest(pool, r), false, false));
  const idleFrom = performance.now();
  assert.equal(pool.connections, 1);
  // Bounded: the sweep runs every idle_timeout here, so the connection goes within a few of them.
  const deadline = idleFrom + 20_000;
  while (pool.connections > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.connections, 0, 'the idle connection was not closed within 20 s');
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(closedAt - idleFrom >= idleTimeoutMs - 5, `closed after ${closedAt - idleFrom} ms idle`);
});
