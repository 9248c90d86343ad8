// The speculative upstream of a silent connection: greeting heard, taken or cancelled, failure reported.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { TunnelUpstreamHandlers } from '../../src/proxy/cluster/tunnel-upstream.ts';
import { Speculation } from '../../src/proxy/tcp/speculation.ts';

/** A loopback server that writes `greeting` (if any) on connect and records what each connection sent. */
async function server(greeting: string) {
  const received: string[] = [];
  const closed: Promise<void>[] = [];
  const srv = net.createServer((s) => {
    const i = received.push('') - 1;
    s.on('data', (d) => (received[i] += d.toString()));
    s.on('error', () => {});
    closed.push(new Promise((r) => s.on('close', () => r())));
    if (greeting) s.write(greeting);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, received, closed, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

function opener(port: number) {
  return (h: TunnelUpstreamHandlers) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => h.ready(s));
    s.once('error', (e) => h.failed(e));
    return s;
  };
}

/** Fails the test instead of hanging when `p` does not settle. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after 5 s`)), 5000);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

test('a server that speaks first: its greeting is read, then the connection is taken with it', async () => {
  const srv = await server('220 ready\r\n');
  let spec!: Speculation;
  await bounded(new Promise<void>((spoke) => (spec = new Speculation(opener(srv.port), spoke))), 'greeting');
  assert.equal(spec.serverFirst, true);
  const [up, greeting] = await new Promise<[net.Socket | undefined, Buffer]>((r) =>
    spec.take((u, g) => r([u, g])),
  );
  assert.equal(greeting.toString(), '220 ready\r\n');
  up!.end('QUIT\r\n');
  await bounded(srv.closed[0], 'close');
  assert.deepEqual(srv.received, ['QUIT\r\n']);
  await srv.close();
});

test('a silent server: the taken connection carries the client bytes; a cancelled one carries none', async () => {
  const srv = await server('');
  const spoke = () => assert.fail('the server never spoke');
  const taken = new Speculation(opener(srv.port), spoke);
  const [up, greeting] = await bounded(
    new Promise<[net.Socket | undefined, Buffer]>((r) => taken.take((u, g) => r([u, g]))),
    'take',
  );
  assert.equal(greeting.length, 0);
  up!.end('hello');
  const cancelled = new Speculation(opener(srv.port), spoke);
  await bounded(
    new Promise<void>(function wait(r) {
      if (srv.received.length === 2) r();
      else setTimeout(() => wait(r), 5);
    }),
    'second connection',
  );
  cancelled.cancel();
  await bounded(Promise.all(srv.closed), 'close');
  assert.deepEqual(srv.received, ['hello', '']);
  await srv.close();
});

test('a refused connection is handed over as undefined (the owner connects afresh)', async () => {
  const srv = await server('');
  await srv.close();
  const spec = new Speculation(opener(srv.port), () => assert.fail('no server'));
  const up = await bounded(new Promise((r) => spec.take((u) => r(u))), 'failure');
  assert.equal(up, undefined);
});
