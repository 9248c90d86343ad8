// Protocol detection, Istio's default: gRPC (HTTP/2) and HTTP/1.1 through sidecars started with no --protocol.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { grpcEchoClient, type Message, startGrpcEcho } from '../helpers/echo-grpc.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;

let dir: string;
let outbound: number;
const procs: WeftProcess[] = [];
const apps: { close(): Promise<void> }[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-detect-'));
  const cp = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
    ],
    { ready: CP_READY },
  );
  procs.push(cp);
  const server = cp.ready[1];
  const [echo, web, client]: [{ port: number; close(): Promise<void> }, Echo, Echo] = await Promise.all([
    startGrpcEcho('echo'),
    startHttpEcho('web'),
    startHttpEcho('client'),
  ]);
  apps.push(echo, web, client);
  // No --protocol anywhere: every port is detected.
  const [sidecar] = await Promise.all([
    startSidecar([server], ['--service', 'client', '--app-port', String(client.port)], procs),
    startSidecar(
      [server],
      ['--service', 'echo', '--app-port', String(echo.port), '--service-port', '50051'],
      procs,
    ),
    startSidecar([server], ['--service', 'web', '--app-port', String(web.port)], procs),
  ]);
  outbound = sidecar.out;
});

after(async () => {
  for (const p of procs.slice(1)) await p.stop('SIGTERM');
  await procs[0]?.stop('SIGTERM');
  await Promise.all(apps.map((a) => a.close()));
  await rm(dir, { recursive: true, force: true });
});

type Call = (
  req: Message,
  md: grpc.Metadata,
  cb: (e: grpc.ServiceError | null, r?: Message) => void,
) => grpc.ClientUnaryCall;

test('gRPC through two default-started sidecars: unary, streaming, trailers and status', async () => {
  const client = grpcEchoClient(`127.0.0.1:${outbound}`, 'echo:50051');
  try {
    const unary = (req: Message) =>
      new Promise<{ err: grpc.ServiceError | null; res?: Message; trailers?: grpc.Metadata }>((resolve) => {
        let trailers: grpc.Metadata | undefined;
        const call = (client.Unary as unknown as Call)(req, new grpc.Metadata(), (err, res) =>
          setImmediate(() => resolve({ err, res, trailers })),
        );
        call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
      });
    await eventually(async () => {
      const ok = await unary({ id: 1 });
      assert.equal(ok.err, null, ok.err?.message);
      assert.equal(ok.res?.name, 'echo');
      assert.deepEqual(ok.trailers?.get('x-served-by'), ['echo']);
    });
    const failed = await unary({ id: 7, fail: true });
    assert.equal(failed.err?.code, grpc.status.NOT_FOUND);
    assert.equal(failed.err?.details, 'no such thing: 7');
    const streamed = await new Promise<Message[]>((resolve, reject) => {
      const out: Message[] = [];
      const call = (client.ServerStream as unknown as (r: Message) => grpc.ClientReadableStream<Message>)({
        count: 5,
      });
      call.on('data', (m: Message) => out.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
    assert.deepEqual(
      streamed.map((m) => m.i),
      [0, 1, 2, 3, 4],
    );
    const bidi = await new Promise<Message[]>((resolve, reject) => {
      const out: Message[] = [];
      const call = (client.Bidi as unknown as () => grpc.ClientDuplexStream<Message, Message>)();
      call.on('data', (m: Message) => out.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(out));
      for (let i = 0; i < 3; i++) call.write({ i });
      call.end();
    });
    assert.deepEqual(
      bidi.map((m) => (m.echo as Message).i),
      [0, 1, 2],
    );
  } finally {
    client.close();
  }
});

test('HTTP/1.1 through the same default-started sidecars', async () => {
  await eventually(async () => {
    const res = await request(outbound, { host: 'web', path: '/x' });
    assert.equal(res.status, 200);
    assert.equal(res.json?.name, 'web');
    assert.equal(res.json?.httpVersion, '1.1');
  });
});
