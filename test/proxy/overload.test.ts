// Per-listener connection limit and the overload manager (fixed heap) on real sockets: closed, refused, 503 OL, recovered.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { renderPrometheus } from '../../src/proxy/admin/prometheus.ts';
import {
  CONNECTION_LIMIT_STATS,
  CONNECTION_LIMIT_TYPE_URL,
} from '../../src/proxy/listener/connection-limit-filter.ts';
import { compileListener } from '../../src/proxy/listener/listener-config.ts';
import { OverloadManager } from '../../src/proxy/overload/overload-manager.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { coreWith, outboundListener, staticCluster, untilClosed, vhost } from './fixtures.ts';

/** Sends one request on a new connection and resolves with the first response head it gets back. */
async function requestOn(port: number): Promise<{ socket: net.Socket; head: string }> {
  const socket = net.connect(port, '127.0.0.1');
  return { socket, head: await headOf(socket) };
}

/** Sends one request on `socket` and resolves with the response head. */
function headOf(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within 10 s (got ${JSON.stringify(out)})`));
    }, 10_000);
    socket.on('error', reject);
    socket.on('data', (d) => {
      out += d.toString('latin1');
      if (!out.includes('\r\n\r\n')) return;
      clearTimeout(timer);
      resolve(out.slice(0, out.indexOf('\r\n\r\n')));
    });
    socket.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n');
  });
}

async function proxyTo(
  app: Echo,
  settings: { maxConnections?: number; maxHeapBytes?: number },
  limitFilter?: Record<string, unknown>,
) {
  const listener = outboundListener(0);
  listener.address = { socketAddress: { address: '127.0.0.1', portValue: 0 } };
  if (limitFilter)
    (listener.filterChains as { filters: unknown[] }[])[0].filters.unshift({
      name: 'envoy.filters.network.connection_limit',
      typedConfig: { '@type': CONNECTION_LIMIT_TYPE_URL, ...limitFilter },
    });
  return coreWith(
    {
      listeners: [listener],
      clusters: [staticCluster('app', [{ port: app.port }])],
      routes: [
        {
          name: 'outbound',
          virtualHosts: [vhost('app', 80, [{ match: { prefix: '/' }, route: { cluster: 'app' } }])],
        },
      ],
    },
    settings,
  );
}

/** Polls `cond` every 20 ms, failing with `why` after 10 s (closes are seen by the proxy asynchronously). */
async function eventually(cond: () => boolean, why: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cond(), why);
}

describe('limits on holding connections and memory', () => {
  let app: Echo;
  before(async () => {
    app = await startHttpEcho('app');
  });
  after(async () => {
    await app?.close();
  });

  test('--max-connections: the connection over the limit is closed at once and counted', async (t) => {
    const core = await proxyTo(app, { maxConnections: 2 });
    t.after(() => core.destroy());
    const listener = core.listeners.get('outbound')!;
    const a = await requestOn(listener.port);
    const b = await requestOn(listener.port);
    assert.match(a.head, /^HTTP\/1\.1 200 /);
    assert.match(b.head, /^HTTP\/1\.1 200 /);
    const third = net.connect(listener.port, '127.0.0.1');
    third.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n');
    assert.equal(await untilClosed(third, 10_000), '', 'the third connection got no answer');
    assert.equal(listener.overflow, 1);
    assert.equal(listener.limit.active, 2);
    const text = renderPrometheus(core, undefined);
    assert.match(text, /envoy_listener_downstream_cx_overflow\{[^}]*\} 1\n/);
    assert.match(text, /envoy_listener_downstream_cx_active\{[^}]*\} 2\n/);
    a.socket.destroy();
    await eventually(() => listener.limit.active === 1, 'the proxy saw the first connection close');
    const c = await requestOn(listener.port);
    assert.match(c.head, /^HTTP\/1\.1 200 /, 'a slot freed takes a new connection');
    b.socket.destroy();
    c.socket.destroy();
  });

  test('connection_limit filter: over max_connections the chain closes the connection (after delay)', async (t) => {
    const core = await proxyTo(
      app,
      {},
      { statPrefix: 'limit_test', maxConnections: { value: 1 }, delay: '0.05s' },
    );
    t.after(() => core.destroy());
    const port = core.listeners.get('outbound')!.port;
    const first = await requestOn(port);
    t.after(() => first.socket.destroy());
    assert.match(first.head, /^HTTP\/1\.1 200 /);
    const second = net.connect(port, '127.0.0.1');
    second.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n');
    assert.equal(await untilClosed(second, 10_000), '', 'the second connection got no answer');
    assert.deepEqual(CONNECTION_LIMIT_STATS.entries(core).get('limit_test'), {
      limitedConnections: 1,
      activeConnections: 1,
    });
    const text = renderPrometheus(core, undefined);
    assert.match(
      text,
      /envoy_connection_limit_limited_connections\{envoy_connection_limit_prefix="limit_test"\} 1\n/,
    );
    assert.match(
      text,
      /envoy_connection_limit_active_connections\{envoy_connection_limit_prefix="limit_test"\} 1\n/,
    );
  });

  test('--max-heap-mb: over the threshold requests get 503 OL and connections are refused; both recover', async (t) => {
    const core = await proxyTo(app, { maxHeapBytes: 2 ** 40 });
    t.after(() => core.destroy());
    const listener = core.listeners.get('outbound')!;
    const overload = core.overload!;
    const open = net.connect(listener.port, '127.0.0.1');
    t.after(() => open.destroy());
    open.on('error', () => {});
    await eventually(() => listener.limit.active === 1, 'the proxy accepted the first connection');
    // A heap size below what the heap holds now: every action turns on at the next check.
    overload.setMaxHeapBytes(1);
    assert.equal(overload.stopAcceptingRequests, true);
    const head = await headOf(open);
    assert.match(head, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'a request on an open connection');
    assert.match(head, /\r\nx-weft-response-flags: OL(\r\n|$)/i);
    const refused = net.connect(listener.port, '127.0.0.1');
    assert.equal(await untilClosed(refused, 10_000), '', 'a new connection is closed at once');
    assert.equal(listener.overloadRejected, 1);
    const shed = renderPrometheus(core, undefined);
    assert.match(shed, /envoy_overload_envoy_overload_actions_stop_accepting_requests_active\{\} 1\n/);
    assert.match(shed, /envoy_overload_envoy_overload_actions_stop_accepting_connections_active\{\} 1\n/);
    assert.match(shed, /envoy_http_downstream_rq_overload_close\{[^}]*\} 1\n/);
    assert.match(shed, /envoy_listener_downstream_cx_overload_reject\{[^}]*\} 1\n/);
    overload.setMaxHeapBytes(2 ** 40);
    assert.equal((await requestOn(listener.port)).head.split('\r\n')[0], 'HTTP/1.1 200 OK', 'recovered');
    const calm = renderPrometheus(core, undefined);
    assert.match(calm, /envoy_overload_envoy_overload_actions_stop_accepting_requests_active\{\} 0\n/);
  });
});

test('overload actions turn on at 95% (requests) and 98% (connections) of the heap, and off below', () => {
  let used = 50;
  const o = new OverloadManager({ maxHeapBytes: 100, sample: () => used });
  const state = () => [o.stopAcceptingRequests, o.stopAcceptingConnections];
  o.check();
  assert.deepEqual(state(), [false, false]);
  used = 96;
  o.check();
  assert.deepEqual(state(), [true, false]);
  used = 99;
  o.check();
  assert.deepEqual(state(), [true, true]);
  used = 10;
  o.check();
  assert.deepEqual(state(), [false, false]);
});

test('connection_limit: a missing limit or another filter before the terminal one is refused by name', () => {
  const withFilter = (typedConfig: Record<string, unknown>) => {
    const l = outboundListener(0);
    (l.filterChains as { filters: unknown[] }[])[0].filters.unshift({ name: 'x', typedConfig });
    return l;
  };
  assert.throws(
    () => compileListener(withFilter({ '@type': CONNECTION_LIMIT_TYPE_URL, statPrefix: 'a' })),
    /filters\[0\]\.typed_config\.max_connections/,
  );
  assert.throws(
    () =>
      compileListener(
        withFilter({
          '@type': CONNECTION_LIMIT_TYPE_URL,
          statPrefix: 'a',
          maxConnections: 5,
          runtimeEnabled: {},
        }),
      ),
    /runtime_enabled/,
  );
  assert.throws(
    () =>
      compileListener(
        withFilter({ '@type': 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz' }),
      ),
    /filters\[0\]: network filter 'x' before the terminal one/,
  );
  assert.throws(
    () =>
      compileListener(
        withFilter({
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
          statPrefix: 'tcp.',
        }),
      ),
    /network rbac filter before an HTTP connection manager/,
  );
  const ok = compileListener(
    withFilter({ '@type': CONNECTION_LIMIT_TYPE_URL, statPrefix: 'a', maxConnections: '5' }),
  );
  assert.deepEqual(ok.filterChains[0].connectionLimit, {
    statPrefix: 'a',
    stats: { limitedConnections: 0, activeConnections: 0 },
    maxConnections: 5,
    delayMs: 0,
  });
});
