// gRPC through the proxy core: retries on UNAVAILABLE and on a dead endpoint, with the request body replayed.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { echoService, grpcEchoClient, type Message, startGrpcEcho } from '../helpers/echo-grpc.ts';
import { coreWith, H2_OPTIONS, outboundListener, staticCluster, vhost } from './fixtures.ts';

let core: ProxyCore;
let out: number;
const closers: (() => Promise<void> | void)[] = [];
let unavailableCalls = 0;

before(async () => {
  const good = await startGrpcEcho('good');
  closers.push(() => good.close());
  // A server that always answers UNAVAILABLE (a trailers-only response).
  const bad = new grpc.Server();
  bad.addService(echoService, {
    Unary(_call: grpc.ServerUnaryCall<Message, Message>, cb: grpc.sendUnaryData<Message>) {
      unavailableCalls++;
      cb({ code: grpc.status.UNAVAILABLE, details: 'going away' });
    },
    ServerStream() {},
    ClientStream() {},
    Bidi() {},
  });
  const badPort = await new Promise<number>((resolve, reject) =>
    bad.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  closers.push(() => bad.forceShutdown());
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const retryPolicy = {
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: { value: 2 },
    retriableStatusCodes: [503],
  };
  core = await coreWith({
    listeners: [outboundListener(0)],
    clusters: [
      staticCluster('flaky', [{ port: badPort }, { port: good.port }], {
        typedExtensionProtocolOptions: H2_OPTIONS,
      }),
      staticCluster('half-dead', [{ port: deadPort }, { port: good.port }], {
        typedExtensionProtocolOptions: H2_OPTIONS,
      }),
    ],
    routes: [
      {
        name: 'outbound',
        virtualHosts: [
          vhost('flaky', 50051, [{ match: { prefix: '/' }, route: { cluster: 'flaky', retryPolicy } }]),
          vhost('noretry', 50051, [{ match: { prefix: '/' }, route: { cluster: 'flaky' } }]),
          vhost('half-dead', 50051, [
            { match: { prefix: '/' }, route: { cluster: 'half-dead', retryPolicy } },
          ]),
        ],
      },
    ],
  });
  out = core.listeners.get('outbound')!.port;
});

after(async () => {
  core?.destroy();
  for (const c of closers) await c();
});

function unary(
  authority: string,
  request: Message,
): Promise<{ err: grpc.ServiceError | null; reply?: Message }> {
  const client = grpcEchoClient(`127.0.0.1:${out}`, authority);
  return new Promise((resolve) => {
    (client.Unary as unknown as (m: Message, cb: grpc.requestCallback<Message>) => void)(
      request,
      (err, reply) => {
        client.close();
        resolve({ err, reply });
      },
    );
  });
}

test('UNAVAILABLE from one endpoint is retried on the other, with the request message intact', async () => {
  for (let i = 0; i < 8; i++) {
    const r = await unary('flaky:50051', { id: i, pad: 'x'.repeat(1000) });
    assert.equal(r.err, null, r.err?.message);
    assert.equal(r.reply?.name, 'good');
    assert.equal((r.reply?.echo as Message | undefined)?.id, i);
  }
  assert.ok(unavailableCalls > 0, 'the failing endpoint was tried');
  assert.ok(core.clusters.get('flaky')!.stats.rqRetry > 0);
});

test('without a retry policy UNAVAILABLE reaches the client', async () => {
  const codes = new Set<number>();
  for (let i = 0; i < 6; i++) codes.add((await unary('noretry:50051', { id: i })).err?.code ?? 0);
  assert.ok(codes.has(grpc.status.UNAVAILABLE));
});

test('a dead endpoint (connection refused) is retried on the live one', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await unary('half-dead:50051', { id: i });
    assert.equal(r.err, null, r.err?.message);
    assert.equal(r.reply?.name, 'good');
  }
});
