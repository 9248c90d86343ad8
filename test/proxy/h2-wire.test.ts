// The proxy's HTTP/2 codec against real peers (curl, nghttp, h2load; node:http2 behind it) and against malformed frames, which must end in GOAWAY or RST_STREAM, never a crash or a forward.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { coreWith, H2_OPTIONS, outboundListener, staticCluster, vhost } from './fixtures.ts';

const run = promisify(execFile);
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One frame: 9-byte header and payload. */
function frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}

/** A header block of literal fields without indexing (names and values under 127 bytes). */
function block(fields: string[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = Buffer.from(fields[i], 'latin1');
    const value = Buffer.from(fields[i + 1], 'latin1');
    parts.push(Buffer.from([0, name.length]), name, Buffer.from([value.length]), value);
  }
  return Buffer.concat(parts);
}

const GET = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'app'];
const SETTINGS = frame(4, 0, 0);
const headers = (id: number, fields: string[], flags = 0x5) => frame(1, flags, id, block(fields));

/** What the proxy answered on a raw connection: frame types and error codes seen, until it closed or went quiet. */
interface Seen {
  goaway: number | undefined;
  resets: Map<number, number>;
  statuses: number;
  closed: boolean;
}

/** Sends `bytes` after the preface and SETTINGS; reads frames until GOAWAY/close or `quietMs` with nothing new. */
function exchange(port: number, bytes: Buffer, quietMs = 400): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const seen: Seen = { goaway: undefined, resets: new Map(), statuses: 0, closed: false };
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let quiet: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error('the proxy neither answered nor closed within 10 s'));
    }, 10_000);
    const done = () => {
      clearTimeout(bound);
      clearTimeout(quiet);
      socket.destroy();
      resolve(seen);
    };
    const rearm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
    socket.on('connect', () => {
      socket.write(Buffer.concat([PREFACE, SETTINGS, bytes]));
      rearm();
    });
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const type = buf[3];
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        if (type === 7) seen.goaway = payload.readUInt32BE(4);
        if (type === 3) seen.resets.set(id, payload.readUInt32BE(0));
        if (type === 1) seen.statuses++;
        buf = buf.subarray(9 + len);
      }
      rearm();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      seen.closed = true;
      done();
    });
  });
}

describe("the proxy's HTTP/2 codec", () => {
  let backend: http2.Http2Server;
  let raw: net.Server;
  let core: ProxyCore;
  let port = 0;
  /** Requests the backend got. */
  let served = 0;

  before(async () => {
    backend = http2.createServer();
    backend.on('stream', (stream, h) => {
      served++;
      stream.on('error', () => {});
      if (h['content-type'] === 'application/grpc') {
        // gRPC echo: the length-prefixed messages go back as they came, then grpc-status 0.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.on('data', (c: Buffer) => stream.write(c));
        stream.on('end', () => stream.end());
        return;
      }
      if (h[':path'] === '/early') {
        // Answers without waiting for the request body.
        stream.respond({ ':status': 200 }, { endStream: true });
        return;
      }
      if (h[':method'] === 'POST') {
        // Echo the byte count of the body.
        let n = 0;
        stream.on('data', (c: Buffer) => (n += c.length));
        stream.on('end', () => {
          if (stream.closed) return;
          stream.respond({ ':status': 200 });
          stream.end(String(n));
        });
        return;
      }
      stream.respond({ ':status': 200, 'x-seen-path': String(h[':path']) });
      stream.end(h[':path'] === '/big' ? Buffer.alloc(3 * 1024 * 1024, 97) : 'hello');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendPort = (backend.address() as net.AddressInfo).port;
    // A raw HTTP/2 server whose every response has an uppercase header name (malformed).
    raw = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.write(SETTINGS);
      let answered = false;
      socket.on('data', () => {
        if (answered) return;
        answered = true;
        socket.write(headers(1, [':status', '200', 'X-Upper', '1']));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const rawPort = (raw.address() as net.AddressInfo).port;
    core = await coreWith({
      listeners: [outboundListener(0)],
      clusters: [
        staticCluster('app', [{ port: backendPort }], { typedExtensionProtocolOptions: H2_OPTIONS }),
        staticCluster('raw', [{ port: rawPort }], { typedExtensionProtocolOptions: H2_OPTIONS }),
      ],
      routes: [
        {
          name: 'outbound',
          virtualHosts: [
            vhost('app', 80, [{ match: { prefix: '/' }, route: { cluster: 'app' } }]),
            vhost('raw', 80, [{ match: { prefix: '/' }, route: { cluster: 'raw' } }]),
          ],
        },
      ],
    });
    port = core.listeners.get('outbound')!.port;
  });
  after(async () => {
    core?.destroy();
    await new Promise((resolve) => backend?.close(resolve));
    raw?.close();
  });

  test('curl --http2-prior-knowledge: a GET, a 3 MiB download and a 5 MiB upload (flow control both ways)', async () => {
    const url = `http://127.0.0.1:${port}`;
    const opts = ['--http2-prior-knowledge', '-s', '--max-time', '20', '-H', 'host: app'];
    const get = await run('curl', [...opts, '-i', `${url}/a?b=c`]);
    assert.match(get.stdout, /^HTTP\/2 200/);
    assert.match(get.stdout, /x-seen-path: \/a\?b=c/);
    assert.match(get.stdout, /hello$/);
    const big = await run('curl', [...opts, '-o', '/dev/null', '-w', '%{size_download}', `${url}/big`]);
    assert.equal(big.stdout, String(3 * 1024 * 1024));
    const up = await run('sh', [
      '-c',
      `head -c ${5 * 1024 * 1024} /dev/zero | curl ${opts.map((o) => `'${o}'`).join(' ')} --data-binary @- ${url}/up`,
    ]);
    assert.equal(up.stdout, String(5 * 1024 * 1024));
  });

  test('nghttp and h2load: every request answered, many streams on few connections', async () => {
    const nghttp = await run('nghttp', ['-v', '-H', ':authority: app', `http://127.0.0.1:${port}/n`], {
      timeout: 20_000,
    });
    assert.match(nghttp.stdout, /:status: 200/);
    assert.match(nghttp.stdout, /hello/);
    // A 3 MiB response to a client with 16 KiB windows: the proxy sends as the client's WINDOW_UPDATEs come.
    const small = await run(
      'nghttp',
      ['-w', '14', '-W', '14', '-H', ':authority: app', `http://127.0.0.1:${port}/big`],
      {
        timeout: 30_000,
        encoding: 'buffer',
        maxBuffer: 8 * 1024 * 1024,
      },
    );
    assert.equal(small.stdout.length, 3 * 1024 * 1024);
    const load = await run(
      'h2load',
      ['-n', '400', '-c', '4', '-m', '20', '-H', ':authority: app', `http://127.0.0.1:${port}/l`],
      {
        timeout: 60_000,
      },
    );
    assert.match(load.stdout, /requests: 400 total, 400 started, 400 done, 400 succeeded/);
  });

  /** Name, bytes, what the proxy answers with and its code; a last `true`: the (valid) head was forwarded before the fault. */
  test('an upstream response with an uppercase header name is not forwarded (503, reset)', async () => {
    const out = await run('curl', [
      '--http2-prior-knowledge',
      '-s',
      '-i',
      '-H',
      'host: raw',
      `http://127.0.0.1:${port}/`,
    ]);
    assert.match(out.stdout, /^HTTP\/2 503/);
    assert.doesNotMatch(out.stdout, /x-upper/i);
  });

  test('a response complete before its request body ends the stream with RST_STREAM NO_ERROR', async () => {
    const post = headers(
      1,
      [':method', 'POST', ...GET.slice(2, 4), ':path', '/early', ':authority', 'app'],
      0x4,
    );
    const seen = await exchange(port, Buffer.concat([post, frame(0, 0, 1, Buffer.from('part'))]));
    assert.equal(seen.statuses, 1);
    assert.equal(seen.resets.get(1), 0);
  });

  test('python grpcio (C-core): unary calls and a bidi stream through the proxy', async () => {
    const script = [
      'import grpc, sys',
      "ch = grpc.insecure_channel(sys.argv[1], options=[('grpc.default_authority', 'app')])",
      "unary = ch.unary_unary('/echo.Echo/Unary')",
      'for i in range(50):',
      "    assert unary(b'x' * (i * 997), timeout=10) == b'x' * (i * 997)",
      "bidi = ch.stream_stream('/echo.Echo/Bidi')",
      "got = list(bidi(iter([b'm' * 70000] * 30), timeout=20))",
      'print(len(got), sum(len(m) for m in got))',
    ].join('\n');
    const out = await run('/usr/bin/python3', ['-c', script, `127.0.0.1:${port}`], { timeout: 60_000 });
    assert.equal(out.stdout.trim(), `30 ${30 * 70000}`);
  });

  const malformed: [string, Buffer, 'goaway' | 'reset', number, boolean?][] = [
    ['DATA on stream 0', frame(0, 0, 0, Buffer.from('x')), 'goaway', 1],
    ['an even stream id', headers(2, GET), 'goaway', 1],
    ['an uppercase header name', headers(1, [...GET, 'X-Up', '1']), 'reset', 1],
    ['a connection-specific header', headers(1, [...GET, 'connection', 'keep-alive']), 'reset', 1],
    ['te other than trailers', headers(1, [...GET, 'te', 'gzip']), 'reset', 1],
    ['a pseudo-header after a regular one', headers(1, ['x-a', '1', ...GET]), 'reset', 1],
    ['an unknown pseudo-header', headers(1, [...GET.slice(0, 6), ':foo', 'x']), 'reset', 1],
    ['no :path', headers(1, GET.slice(0, 4)), 'reset', 1],
    ['a value with a newline', headers(1, [...GET, 'x-a', 'b\r\nc: d']), 'reset', 1],
    [
      'content-length larger than the body',
      Buffer.concat([
        headers(1, [':method', 'POST', ...GET.slice(2), 'content-length', '10'], 0x4),
        frame(0, 1, 1, Buffer.from('abc')),
      ]),
      'reset',
      1,
      true,
    ],
    [
      'DATA after END_STREAM',
      Buffer.concat([headers(1, GET), frame(0, 0, 1, Buffer.from('x'))]),
      'reset',
      5,
      true,
    ],
    ['WINDOW_UPDATE of 0 on the connection', frame(8, 0, 0, Buffer.alloc(4)), 'goaway', 1],
    ['SETTINGS of a bad length', frame(4, 0, 0, Buffer.alloc(5)), 'goaway', 6],
    ['PING of a bad length', frame(6, 0, 0, Buffer.alloc(7)), 'goaway', 6],
    ['a frame over the maximum size', frame(0, 0, 1, Buffer.alloc(20_000)), 'goaway', 6],
    ['CONTINUATION without HEADERS', frame(9, 4, 1, block(GET)), 'goaway', 1],
    ['an HPACK index of 0', frame(1, 5, 1, Buffer.from([0x80])), 'goaway', 9],
    ['PUSH_PROMISE from a client', frame(5, 4, 1, Buffer.alloc(4)), 'goaway', 1],
    ['RST_STREAM on an idle stream', frame(3, 0, 7, Buffer.alloc(4)), 'goaway', 1],
  ];
  for (const [name, bytes, expect, code, forwarded] of malformed)
    test(`malformed: ${name} gets ${expect === 'goaway' ? 'GOAWAY' : 'RST_STREAM'} (code ${code})`, async () => {
      const before = served;
      const seen = await exchange(port, bytes);
      if (expect === 'goaway') assert.equal(seen.goaway, code, `GOAWAY code (${JSON.stringify(seen)})`);
      else
        assert.equal(
          [...seen.resets.values()][0],
          code,
          `RST_STREAM code (${JSON.stringify([...seen.resets])})`,
        );
      assert.equal(served, before + (forwarded ? 1 : 0), 'the backend got no malformed request');
    });

  test('a CONTINUATION flood ends the connection (ENHANCE_YOUR_CALM) before the block is decoded', async () => {
    const parts = [frame(1, 0, 1, block(GET))];
    for (let i = 0; i < 200; i++) parts.push(frame(9, 0, 1, Buffer.alloc(1000, 0x41)));
    const seen = await exchange(port, Buffer.concat(parts));
    assert.equal(seen.goaway, 11);
  });

  test('a flood of empty DATA frames ends the connection (ENHANCE_YOUR_CALM); one empty frame is fine', async () => {
    const POST = [':method', 'POST', ':scheme', 'http', ':path', '/', ':authority', 'app'];
    const flood = [headers(1, POST, 0x4)];
    for (let i = 0; i < 50; i++) flood.push(frame(0, 0, 1));
    assert.equal((await exchange(port, Buffer.concat(flood))).goaway, 11);
    const before = served;
    const one = [headers(1, POST, 0x4), frame(0, 0, 1), frame(0, 0, 1, Buffer.from('x')), frame(0, 1, 1)];
    const seen = await exchange(port, Buffer.concat(one));
    assert.equal(seen.goaway, undefined);
    assert.equal(served, before + 1, 'the request with one empty DATA frame was served');
  });

  test('a header list over 100 fields gets 431; the connection stays usable', async () => {
    const fields = [...GET];
    for (let i = 0; i < 110; i++) fields.push(`x-h${i}`, 'v'.repeat(120));
    // Split over CONTINUATION frames of 16 KiB.
    const all = block(fields);
    const parts: Buffer[] = [];
    for (let p = 0; p < all.length; p += 16384) {
      const last = p + 16384 >= all.length ? 4 : 0;
      parts.push(frame(p === 0 ? 1 : 9, (p === 0 ? 1 : 0) | last, 1, all.subarray(p, p + 16384)));
    }
    parts.push(headers(3, GET));
    const before = served;
    const seen = await exchange(port, Buffer.concat(parts));
    assert.equal(seen.goaway, undefined);
    assert.equal(seen.statuses, 2, 'both streams answered (431, then 200)');
    assert.equal(served, before + 1, 'only the second request reached the app');
  });

  test('a PING flood from a client that reads nothing ends the connection (ENHANCE_YOUR_CALM)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    const ping = frame(6, 0, 0, Buffer.alloc(8));
    const burst = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
    socket.write(Buffer.concat([PREFACE, SETTINGS]));
    // Acks pile up in the proxy's socket once the kernel buffers (a few MB on loopback) are full:
    // 1.5M pings owe 25 MB.
    for (let i = 0; i < 150 && !socket.destroyed; i++)
      if (!socket.write(burst)) await new Promise((resolve) => setTimeout(resolve, 20));
    // Now read what came: the proxy's GOAWAY is the last frame before it closed.
    let got = Buffer.alloc(0);
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15_000);
      socket.on('data', (d) => (got = Buffer.concat([got, d])));
      const ended = () => {
        clearTimeout(timer);
        resolve(true);
      };
      socket.on('end', ended);
      socket.on('close', ended);
      socket.resume();
    });
    socket.destroy();
    assert.ok(closed, 'the proxy ended the connection within 15 s');
    let goaway = -1;
    for (let p = 0; p + 9 <= got.length; p += 9 + got.readUIntBE(p, 3))
      if (got[p + 3] === 7 && p + 17 <= got.length) goaway = got.readUInt32BE(p + 13);
    assert.equal(goaway, 11);
  });

  test('a client that half-closes after its request still gets the response, then the connection closes', async () => {
    const seen = await new Promise<{ statuses: number; closed: boolean }>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the proxy did not answer and close within 10 s'));
      }, 10_000);
      socket.on('connect', () => socket.end(Buffer.concat([PREFACE, SETTINGS, headers(1, GET)])));
      socket.on('data', (d) => (got = Buffer.concat([got, d])));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        let statuses = 0;
        for (let p = 0; p + 9 <= got.length; p += 9 + got.readUIntBE(p, 3)) if (got[p + 3] === 1) statuses++;
        resolve({ statuses, closed: true });
      });
    });
    assert.deepEqual(seen, { statuses: 1, closed: true });
  });

  test('random frames never crash the proxy nor reach the app', async () => {
    let seed = 20;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const before = served;
    for (let round = 0; round < 60; round++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 1 + random(6); i++) {
        const payload = Buffer.alloc(random(40));
        for (let j = 0; j < payload.length; j++) payload[j] = random(256);
        parts.push(frame(random(11), random(256), random(4), payload));
      }
      await exchange(port, Buffer.concat(parts), 50);
    }
    assert.equal(served, before, 'no random frame sequence became a request');
    const ok = await run('curl', [
      '--http2-prior-knowledge',
      '-s',
      '-H',
      'host: app',
      `http://127.0.0.1:${port}/after`,
    ]);
    assert.equal(ok.stdout, 'hello', 'the proxy still serves');
  });
});
