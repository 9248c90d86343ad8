// The control plane's gRPC server on node:http2: statuses real clients rely on, keepalive, GOAWAY on close, and a slow ADS client held to the latest version.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { GRPC_STATUS, GrpcServer, parseGrpcTimeout } from '../../src/control/xds/grpc-server.ts';
import { createXdsServer } from '../../src/control/xds/server.ts';
import { adsService, type DiscoveryResponseMessage } from '../../src/xds/discovery.ts';
import { encodeGrpcMessage, GrpcMessageReader } from '../../src/xds/grpc-frame.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { AdsTestClient, sidecarNode } from '../helpers/grpc-ads-client.ts';
import { service, snapshot } from '../helpers/grpc-xds-mesh.ts';
import { makeCertificates, makeClientCertificate } from '../helpers/openssl-certs.ts';

const ECHO = '/test.Echo/Stream';

/** A method that echoes each message and ends with OK when the client half-closes. */
function echoServer(config: Partial<ConstructorParameters<typeof GrpcServer>[0]> = {}): GrpcServer {
  return new GrpcServer({
    methods: new Map([
      [
        ECHO,
        (call) => ({
          message: (bytes) => call.send(bytes),
          halfClose: () => call.end(),
          close: () => {},
          drain: () => {},
        }),
      ],
    ]),
    ...config,
  });
}

interface RawResult {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  messages: Buffer[];
}

/** One request on a raw HTTP/2 client: headers, body bytes, then the whole response (bounded). */
function raw(port: number, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('no complete response within 5 s'));
    }, 5000);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': ECHO,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const result: RawResult = { status: 0, headers: {}, trailers: {}, messages: [] };
    const reader = new GrpcMessageReader(1 << 20);
    stream.on('response', (h) => {
      result.status = Number(h[':status']);
      result.headers = h;
    });
    stream.on('trailers', (t) => {
      result.trailers = t;
    });
    stream.on('data', (chunk: Buffer) => {
      const read = reader.push(chunk);
      if (read.outcome === 'messages') result.messages.push(...read.messages);
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      session.close();
      resolve(result);
    });
    if (body) stream.write(body);
    if (!headers['x-keep-open']) stream.end();
  });
}

/** grpc-status from the trailers, or from a trailers-only response's headers. */
const statusOf = (r: RawResult) => Number(r.trailers['grpc-status'] ?? r.headers['grpc-status']);
const messageOf = (r: RawResult) =>
  decodeURIComponent(String(r.trailers['grpc-message'] ?? r.headers['grpc-message'] ?? ''));

describe('gRPC semantics', () => {
  let server: GrpcServer;
  let port: number;
  before(async () => {
    server = echoServer({ maxReceiveMessageBytes: 1024 });
    port = await server.listen('127.0.0.1', 0);
  });
  after(() => server.close());

  test('a grpc-js client: messages echoed, OK in the trailers; an unknown method is UNIMPLEMENTED', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const identity = (b: Buffer) => b;
      const call = client.makeBidiStreamRequest(ECHO, identity, identity);
      const received: string[] = [];
      call.on('data', (b: Buffer) => received.push(b.toString()));
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.write(Buffer.from('one'));
      call.write(Buffer.from('two'));
      call.end();
      assert.equal((await status).code, grpc.status.OK);
      assert.deepEqual(received, ['one', 'two']);
      const unknown = client.makeBidiStreamRequest('/test.Echo/Nope', identity, identity);
      unknown.on('data', () => {});
      unknown.on('error', () => {});
      unknown.end();
      const refused = await new Promise<grpc.StatusObject>((resolve) => unknown.on('status', resolve));
      assert.equal(refused.code, grpc.status.UNIMPLEMENTED);
      assert.match(refused.details, /unknown method \/test\.Echo\/Nope/);
    } finally {
      client.close();
    }
  });

  test('a request that is not gRPC gets 415; compression is refused (UNIMPLEMENTED, INTERNAL); a large message is RESOURCE_EXHAUSTED', async () => {
    const plain = await raw(port, { 'content-type': 'text/plain' });
    assert.equal(plain.status, 415);
    const gzip = await raw(port, { 'grpc-encoding': 'gzip' });
    assert.equal(statusOf(gzip), GRPC_STATUS.unimplemented);
    assert.equal(gzip.headers['grpc-accept-encoding'], 'identity');
    const flagged = encodeGrpcMessage(Buffer.from('x'));
    flagged[0] = 1;
    const compressed = await raw(port, {}, flagged);
    assert.equal(statusOf(compressed), GRPC_STATUS.internal);
    assert.match(messageOf(compressed), /compressed/);
    const large = await raw(port, {}, encodeGrpcMessage(Buffer.alloc(2000)));
    assert.equal(statusOf(large), GRPC_STATUS.resourceExhausted);
    assert.match(messageOf(large), /2000 vs\. 1024/);
    const truncated = await raw(port, {}, encodeGrpcMessage(Buffer.alloc(100)).subarray(0, 50));
    assert.equal(statusOf(truncated), GRPC_STATUS.internal);
  });

  test('grpc-timeout ends the call with DEADLINE_EXCEEDED; a malformed one is refused', async () => {
    assert.equal(parseGrpcTimeout('100m'), 100);
    assert.equal(parseGrpcTimeout('2S'), 2000);
    assert.ok(Number.isNaN(parseGrpcTimeout('1.5S')));
    const echoed = encodeGrpcMessage(Buffer.from('hi'));
    const timed = await raw(port, { 'grpc-timeout': '200m', 'x-keep-open': '1' }, echoed);
    assert.equal(statusOf(timed), GRPC_STATUS.deadlineExceeded);
    assert.equal(messageOf(timed), 'deadline exceeded');
    const malformed = await raw(port, { 'grpc-timeout': 'soon' });
    assert.equal(statusOf(malformed), GRPC_STATUS.internal);
  });
});

describe('keepalive and close', () => {
  test('a connection that answers nothing is closed after the keepalive timeout; one that answers PINGs stays', async () => {
    // A timeout well above a busy machine's pauses: the answering client must never be cut.
    const server = echoServer({ keepaliveTimeMs: 100, keepaliveTimeoutMs: 1000 });
    const port = await server.listen('127.0.0.1', 0);
    const alive = http2.connect(`http://127.0.0.1:${port}`);
    alive.on('error', () => {});
    try {
      // The HTTP/2 preface and an empty SETTINGS, then silence: no PING is ever answered.
      const silent = net.connect(port, '127.0.0.1');
      silent.on('data', () => {});
      silent.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
          Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        ]),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the silent connection was not closed within 10 s')),
          10_000,
        );
        silent.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
        silent.on('error', () => {});
      });
      // Several keepalive rounds later the answering client's connection is still open.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(alive.closed || alive.destroyed, false);
    } finally {
      alive.destroy();
      await server.close();
    }
  });

  test('close sends GOAWAY and ends open calls with UNAVAILABLE', async () => {
    const server = echoServer();
    const port = await server.listen('127.0.0.1', 0);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const goaway = new Promise<void>((resolve) => session.on('goaway', () => resolve()));
    const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
    stream.on('error', () => {});
    stream.write(encodeGrpcMessage(Buffer.from('x')));
    await new Promise((resolve) => stream.once('data', resolve));
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('trailers', resolve));
    stream.resume();
    await server.close();
    await goaway;
    assert.equal((await trailers)['grpc-status'], String(GRPC_STATUS.unavailable));
    session.destroy();
  });
});

/** A state-of-the-world CDS stream whose reads are held by flow control (a stream window of 0) until `resume`. */
class SlowClient {
  readonly versions: string[] = [];
  readonly #session: http2.ClientHttp2Session;
  readonly #reader = new GrpcMessageReader(64 << 20);

  constructor(port: number) {
    this.#session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
    this.#session.on('error', () => {});
    const stream = this.#session.request({
      ':method': 'POST',
      ':path': adsService.StreamAggregatedResources.path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      const read = this.#reader.push(chunk);
      if (read.outcome !== 'messages') return;
      for (const m of read.messages) {
        const r = adsService.StreamAggregatedResources.responseDeserialize(m) as DiscoveryResponseMessage;
        this.versions.push(String(r.version_info));
      }
    });
    const request = { node: sidecarNode('slow'), type_url: TYPE_URL.cluster, resource_names: [] };
    stream.write(encodeGrpcMessage(adsService.StreamAggregatedResources.requestSerialize(request)));
  }

  resume(): void {
    this.#session.settings({ initialWindowSize: 1 << 20 });
  }

  close(): void {
    this.#session.destroy();
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a client that does not read holds no queue of versions and does not hold up others; it gets the latest when it reads', async () => {
  // Any response not yet taken by the connection makes a stream congested.
  const server = createXdsServer({ debounceMs: 0, writeQueueBytes: 1, log: pino({ level: 'silent' }) });
  const port = await server.listen('127.0.0.1', 0);
  const mesh = (v: number) =>
    snapshot({
      version: v,
      services: Array.from({ length: v }, (_, i) => service(`s${i}`, [{ number: 80 }])),
    });
  server.setSnapshot(mesh(1));
  const slow = new SlowClient(port);
  const fast = new AdsTestClient<DiscoveryResponseMessage>(`127.0.0.1:${port}`, 'sotw');
  try {
    await until(
      () => server.status().some((p) => p.nodeId === 'slow' && p.types[TYPE_URL.cluster]?.sent !== undefined),
      "the slow client's first response to be written",
    );
    fast.send({ node: sidecarNode('fast'), type_url: TYPE_URL.cluster });
    const first = await fast.next(TYPE_URL.cluster, 10_000);
    fast.send({ type_url: TYPE_URL.cluster, version_info: first.version_info, response_nonce: first.nonce });
    const fastVersions = [first.version_info];
    for (let v = 2; v <= 6; v++) {
      server.setSnapshot(mesh(v));
      const r = await fast.next(TYPE_URL.cluster, 10_000);
      fast.send({ type_url: TYPE_URL.cluster, version_info: r.version_info, response_nonce: r.nonce });
      fastVersions.push(r.version_info);
    }
    assert.equal(new Set(fastVersions).size, 6, 'the reading client got every version');
    assert.deepEqual(slow.versions, [], 'nothing reached the client whose window is closed');
    slow.resume();
    await until(
      () => slow.versions.at(-1) === fastVersions.at(-1),
      'the slow client to get the latest version',
    );
    await new Promise((r) => setTimeout(r, 200));
    // The response written before it congested, then the latest state: none of the four in between.
    assert.deepEqual(slow.versions, [fastVersions[0], fastVersions[5]]);
  } finally {
    slow.close();
    fast.close();
    await server.close();
  }
});

describe('mutual TLS', () => {
  test('a client certificate is required and reaches the call; a replaced certificate is served to new connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-grpc-tls-'));
    const first = makeCertificates(dir, 'a', ['localhost']);
    const second = makeCertificates(dir, 'b', ['localhost']);
    const client = makeClientCertificate(dir, 'a', 'workload-1');
    const pem = (file: string) => readFileSync(file, 'utf8');
    let listener: ((context: SecureContextOptions) => void) | undefined;
    const tls = {
      current: () => ({ key: pem(first.key), cert: pem(first.cert), ca: pem(first.ca) }),
      onUpdate: (l: (context: SecureContextOptions) => void) => {
        listener = l;
      },
    };
    const server = new GrpcServer({
      methods: new Map([
        [
          ECHO,
          (call) => ({
            message: () => call.send(Buffer.from(String(call.peerCertificate?.subject?.CN))),
            halfClose: () => call.end(),
            close: () => {},
            drain: () => {},
          }),
        ],
      ]),
    });
    const port = await server.listen('127.0.0.1', 0, tls);
    /** One call with the client certificate (or none): the CN the server saw and the server certificate's fingerprint. */
    const callOnce = (withCert: boolean) =>
      new Promise<{ cn: string; server: string }>((resolve, reject) => {
        const session = http2.connect(`https://localhost:${port}`, {
          ca: [pem(first.ca), pem(second.ca)],
          ...(withCert ? { key: pem(client.key), cert: pem(client.cert) } : {}),
        });
        const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
        session.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        const stream = session.request({
          ':method': 'POST',
          ':path': ECHO,
          'content-type': 'application/grpc',
        });
        stream.on('error', () => {});
        stream.end(encodeGrpcMessage(Buffer.from('who')));
        stream.on('data', (chunk: Buffer) => {
          clearTimeout(timer);
          const server = (session.socket as unknown as TLSSocket).getPeerCertificate().fingerprint256;
          session.destroy();
          resolve({ cn: chunk.subarray(5).toString(), server });
        });
      });
    try {
      const before = await callOnce(true);
      assert.equal(before.cn, 'workload-1');
      await assert.rejects(callOnce(false), 'no client certificate, no connection');
      listener?.({ key: pem(second.key), cert: pem(second.cert), ca: pem(first.ca) });
      const after = await callOnce(true);
      assert.equal(after.cn, 'workload-1');
      assert.notEqual(after.server, before.server, 'the new certificate');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
