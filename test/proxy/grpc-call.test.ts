// The ADS client's own gRPC call on node:http2: framing split anywhere, size limit, trailers, HTTP errors, keepalive.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { AdsClient, type XdsHandler } from '../../src/proxy/xds-client/ads-client.ts';
import { GRPC_STATUS, GrpcBidiCall, type GrpcCallEnd } from '../../src/proxy/xds-client/grpc-call.ts';
import { adsService, type DiscoveryRequestMessage } from '../../src/xds/discovery.ts';
import { encodeGrpcMessage, GrpcMessageReader } from '../../src/xds/grpc-frame.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

const METHOD = adsService.StreamAggregatedResources;

describe('gRPC framing', () => {
  test('reassembles messages split at every byte, and several messages in one chunk', () => {
    const messages = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(20_000, 7), Buffer.from('last')];
    const wire = Buffer.concat(messages.map(encodeGrpcMessage));
    // One byte at a time: the prefix and the message split everywhere.
    const reader = new GrpcMessageReader(1 << 20);
    const got: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) {
      const r = reader.push(wire.subarray(i, i + 1));
      assert.equal(r.outcome, 'messages');
      if (r.outcome === 'messages') got.push(...r.messages);
    }
    assert.deepEqual(got, messages);
    assert.equal(reader.pending, 0);
    // All at once.
    const whole = new GrpcMessageReader(1 << 20).push(wire);
    assert.deepEqual(whole.outcome === 'messages' ? whole.messages : [], messages);
    // Uneven chunks, ending inside a prefix: the rest is pending.
    const partial = new GrpcMessageReader(1 << 20);
    partial.push(wire.subarray(0, 7));
    partial.push(wire.subarray(7, 12));
    assert.ok(partial.pending > 0);
  });

  test('read hands each message over as it completes; split ones share one reused buffer', () => {
    const messages = [Buffer.alloc(3000, 1), Buffer.alloc(3000, 2), Buffer.from('small')];
    const wire = Buffer.concat(messages.map(encodeGrpcMessage));
    const reader = new GrpcMessageReader(1 << 20);
    const seen: Buffer[] = [];
    const copies: Buffer[] = [];
    for (let i = 0; i < wire.length; i += 1000)
      reader.read(wire.subarray(i, i + 1000), (m) => {
        seen.push(m);
        copies.push(Buffer.from(m));
      });
    assert.deepEqual(copies, messages);
    assert.equal(seen[0].buffer, seen[1].buffer, 'both split messages were assembled in the same buffer');
    assert.deepEqual(
      reader.read(encodeGrpcMessage(Buffer.alloc(2 << 20)), () => {}),
      {
        outcome: 'too-large',
        length: 2 << 20,
      },
    );
  });

  test('refuses a message over the limit from its prefix, and a compressed one', () => {
    const reader = new GrpcMessageReader(100);
    assert.deepEqual(reader.push(encodeGrpcMessage(Buffer.alloc(100))).outcome, 'messages');
    assert.deepEqual(reader.push(encodeGrpcMessage(Buffer.alloc(101)).subarray(0, 5)), {
      outcome: 'too-large',
      length: 101,
    });
    const compressed = encodeGrpcMessage(Buffer.from('x'));
    compressed[0] = 1;
    assert.deepEqual(new GrpcMessageReader(100).push(compressed), { outcome: 'compressed' });
  });
});

/** An h2c server whose streams are handled by `onStream`; closed after the tests. */
async function h2Server(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
): Promise<number> {
  const server = http2.createServer();
  server.on('stream', onStream);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.close();
    for (const s of sessions) s.destroy();
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  return (server.address() as net.AddressInfo).port;
}

const GRPC_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

/** Runs one call against `port` until it ends; collects the messages it received. */
function callUntilEnd(
  port: number,
  options: Partial<{ maxMessageBytes: number; keepaliveIntervalMs: number; keepaliveTimeoutMs: number }> = {},
): Promise<{ end: GrpcCallEnd; messages: Buffer[] }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    const call = new GrpcBidiCall(
      {
        address: `127.0.0.1:${port}`,
        path: METHOD.path,
        maxMessageBytes: options.maxMessageBytes ?? 1 << 20,
        keepaliveIntervalMs: options.keepaliveIntervalMs ?? 30_000,
        keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 20_000,
      },
      (m) => messages.push(m),
      (end) => resolve({ end, messages }),
    );
    call.write(Buffer.from('hello'));
  });
}

describe("gRPC call (weft's HTTP/2 client codec) against a node:http2 server", () => {
  test('sends gRPC request headers and framed messages; reads grpc-status and a percent-encoded grpc-message from trailers', async () => {
    let seen: http2.IncomingHttpHeaders = {};
    let body = Buffer.alloc(0);
    const port = await h2Server((stream, headers) => {
      seen = headers;
      stream.on('data', (chunk: Buffer) => {
        body = Buffer.concat([body, chunk]);
        if (body.length < 10) return;
        stream.respond(GRPC_HEADERS, { waitForTrailers: true });
        stream.on('wantTrailers', () =>
          stream.sendTrailers({ 'grpc-status': '9', 'grpc-message': 'not%20now%3A%20draining' }),
        );
        // Two messages split across three writes.
        const wire = Buffer.concat([
          encodeGrpcMessage(Buffer.from('one')),
          encodeGrpcMessage(Buffer.from('two')),
        ]);
        stream.write(wire.subarray(0, 3));
        stream.write(wire.subarray(3, 10));
        stream.end(wire.subarray(10));
      });
    });
    const { end, messages } = await callUntilEnd(port);
    assert.deepEqual(end, { code: 9, details: 'not now: draining', source: 'server' });
    assert.deepEqual(messages.map(String), ['one', 'two']);
    assert.deepEqual(body, encodeGrpcMessage(Buffer.from('hello')));
    assert.equal(seen[':method'], 'POST');
    assert.equal(
      seen[':path'],
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    );
    assert.equal(seen['content-type'], 'application/grpc');
    assert.equal(seen.te, 'trailers');
  });

  test('a trailers-only response carries the status in its headers', async () => {
    const port = await h2Server((stream) =>
      stream.respond(
        { ...GRPC_HEADERS, 'grpc-status': '7', 'grpc-message': 'token revoked' },
        { endStream: true },
      ),
    );
    const { end } = await callUntilEnd(port);
    assert.deepEqual(end, { code: GRPC_STATUS.permissionDenied, details: 'token revoked', source: 'server' });
  });

  test('an HTTP error without grpc-status maps to a gRPC code', async () => {
    const port = await h2Server((stream) => {
      stream.respond({ ':status': 503, 'content-type': 'text/plain' });
      stream.end('overloaded');
    });
    const { end } = await callUntilEnd(port);
    assert.deepEqual(end, { code: GRPC_STATUS.unavailable, details: 'HTTP status 503', source: 'server' });
  });

  test('a message larger than the HTTP/2 windows arrives whole (flow control follows the reads)', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const port = await h2Server((stream) => {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(encodeGrpcMessage(big));
    });
    const { end, messages } = await callUntilEnd(port, { maxMessageBytes: 64 * 1024 * 1024 });
    assert.deepEqual(end, { code: GRPC_STATUS.ok, details: '', source: 'server' });
    assert.equal(messages.length, 1);
    assert.ok(messages[0].equals(big));
  });

  test('a 200 answer that is not gRPC ends the call with UNKNOWN', async () => {
    const port = await h2Server((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/html' });
      stream.end('<html>a web server</html>');
    });
    const { end, messages } = await callUntilEnd(port);
    assert.deepEqual(end, {
      code: GRPC_STATUS.unknown,
      details: 'the response is not gRPC (content-type text/html)',
      source: 'client',
    });
    assert.equal(messages.length, 0);
  });

  test('a message over the limit ends the call with RESOURCE_EXHAUSTED', async () => {
    const port = await h2Server((stream) => {
      stream.respond(GRPC_HEADERS);
      stream.write(encodeGrpcMessage(Buffer.alloc(2000)));
      stream.on('error', () => {});
    });
    const { end, messages } = await callUntilEnd(port, { maxMessageBytes: 1000 });
    assert.equal(end.code, GRPC_STATUS.resourceExhausted);
    assert.match(end.details, /larger than max \(2000 vs\. 1000\)/);
    assert.equal(messages.length, 0);
  });

  test('a connection refused ends the call with UNAVAILABLE', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const { end } = await callUntilEnd(port);
    assert.equal(end.code, GRPC_STATUS.unavailable);
    assert.match(end.details, /ECONNREFUSED/);
  });

  test('answered keepalive PINGs keep the call open until the server ends it', async () => {
    let pings = 0;
    const port = await h2Server((stream) => {
      stream.session?.on('ping', () => pings++);
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // Open for ten keepalive timeouts, then a clean end.
      setTimeout(() => stream.end(encodeGrpcMessage(Buffer.from('late'))), 1000);
    });
    const { end, messages } = await callUntilEnd(port, { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 100 });
    assert.deepEqual(end, { code: GRPC_STATUS.ok, details: '', source: 'server' });
    assert.deepEqual(messages.map(String), ['late']);
    assert.ok(pings >= 3, `the server saw ${pings} PINGs in 1 s at one per 50 ms`);
  });

  test('a stream the server resets before answering ends the call with UNAVAILABLE and the code', async () => {
    const port = await h2Server((stream) => {
      stream.on('error', () => {}); // the server side's own report of the reset
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const { end } = await callUntilEnd(port);
    assert.deepEqual(end, {
      code: GRPC_STATUS.unavailable,
      details: 'the server reset the stream before a response (RST_STREAM code 7)',
      source: 'client',
    });
  });

  test('an unanswered keepalive PING ends the call with UNAVAILABLE', async () => {
    // A server that completes the HTTP/2 handshake (SETTINGS and its ACK) and then ignores everything.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      const settingsAck = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
      socket.write(Buffer.concat([settings, settingsAck]));
      socket.on('data', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const port = (silent.address() as net.AddressInfo).port;
    const { end } = await callUntilEnd(port, { keepaliveIntervalMs: 100, keepaliveTimeoutMs: 300 });
    assert.deepEqual(end, {
      code: GRPC_STATUS.unavailable,
      details: 'keepalive PING not answered within 300 ms',
      source: 'client',
    });
  });
});

describe("ADS client over weft's HTTP/2 client codec", () => {
  test('logs the grpc-status and grpc-message of a failed stream, reconnects, and sends its subscriptions again', async () => {
    const requests: DiscoveryRequestMessage[] = [];
    let streams = 0;
    const port = await h2Server((stream) => {
      streams++;
      let buffered = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
          const length = buffered.readUInt32BE(1);
          requests.push(METHOD.requestDeserialize(buffered.subarray(5, 5 + length)));
          buffered = buffered.subarray(5 + length);
        }
      });
      stream.on('error', () => {});
      // The first stream is refused with a status; later ones stay open.
      if (streams === 1)
        setTimeout(
          () =>
            stream.respond(
              { ...GRPC_HEADERS, 'grpc-status': '14', 'grpc-message': 'control plane restarting' },
              { endStream: true },
            ),
          50,
        );
      else stream.respond(GRPC_HEADERS);
    });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const handler: XdsHandler = { apply: async () => {}, routeNames: () => [], endpointNames: () => [] };
    const client = new AdsClient(
      { address: `127.0.0.1:${port}`, node: { id: 'n1' }, initialBackoffMs: 20, maxBackoffMs: 50 },
      handler,
      pino({ level: 'info' }, sink),
    );
    client.start();
    after(() => client.close());
    const deadline = Date.now() + 20_000;
    while (streams < 2 || requests.length < 4) {
      assert.ok(Date.now() < deadline, `2 streams and 4 requests, got ${streams} and ${requests.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const failure = lines.find((l) => l.msg === 'xDS stream failed; serving the last configuration');
    assert.ok(failure, JSON.stringify(lines));
    assert.equal(failure.code, 14);
    assert.equal(failure.details, 'control plane restarting');
    assert.equal(client.counters.connects, 2);
    assert.equal(client.counters.disconnects, 1);
    // Each stream starts with CDS and LDS wildcard requests from this node.
    assert.deepEqual(
      requests.slice(0, 2).map((r) => r.type_url),
      [TYPE_URL.cluster, TYPE_URL.listener],
    );
    assert.deepEqual(
      requests.slice(2, 4).map((r) => r.type_url),
      [TYPE_URL.cluster, TYPE_URL.listener],
    );
    assert.equal(requests[0].node?.id, 'n1');
  });
});
