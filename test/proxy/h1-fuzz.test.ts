// Property tests of the HTTP/1.1 head parser and chunked decoder (fast-check), and a differential check against llhttp.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { BodyReader, HeadInfo, parseRequestHead } from '../../src/proxy/http/h1/parser.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';

/** Each property stops after this long, whatever its run count: npm test stays bounded on a busy machine. */
const TIME_LIMIT_MS = 4000;
const RUNS = { numRuns: 3000, interruptAfterTimeLimit: TIME_LIMIT_MS };

const TOKEN = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const METHOD = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PURGE');
const PATH = fc.stringMatching(/^\/[A-Za-z0-9._~%/?=&-]{0,30}$/);
const VALUE = fc.stringMatching(/^[!-~]([ !-~]{0,20}[!-~])?$/);
/** Bytes an attacker puts where the grammar does not allow them. */
const HAZARD = fc.constantFrom(
  '\r',
  '\n',
  '\0',
  '\t',
  ' ',
  '\x7f',
  '\x01',
  '\x0b',
  '#',
  ':',
  '\xff',
  '\r\n',
  '\n\n',
);

interface Parts {
  method: string;
  path: string;
  headers: [string, string][];
}

const PARTS: fc.Arbitrary<Parts> = fc.record({
  method: METHOD,
  path: PATH,
  headers: fc.array(fc.tuple(TOKEN, VALUE), { maxLength: 5 }),
});

function headText(p: Parts): string {
  let text = `${p.method} ${p.path} HTTP/1.1\r\nHost: cart\r\n`;
  for (const [name, value] of p.headers) {
    // Framing headers would make llhttp wait for a body; the grammar here is about heads.
    if (/^(content-length|transfer-encoding|host|connection|upgrade|expect)$/i.test(name)) continue;
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/** A valid head with one hazard byte sequence inserted at a position in its request line or headers. */
const MUTATED = fc.tuple(PARTS, HAZARD, fc.nat()).map(([p, hazard, at]) => {
  const text = headText(p);
  const pos = at % (text.length - 4);
  return text.slice(0, pos) + hazard + text.slice(pos);
});

function parse(text: string): { outcome: string; head: RequestHead; info: HeadInfo } {
  const head = new RequestHead();
  const info = new HeadInfo();
  return { outcome: parseRequestHead(Buffer.from(text, 'latin1'), head, info), head, info };
}

test('the head parser never throws, and what it accepts holds no control byte, fragment or bare LF', () => {
  const check = (text: string) => {
    const r = parse(text);
    assert.ok(['complete', 'incomplete', 'invalid', 'too_large'].includes(r.outcome));
    if (r.outcome !== 'complete') return;
    assert.match(r.head.method, /^[!#$%&'*+.^_`|~0-9A-Z-]+$/);
    assert.match(r.head.path, /^[!-"$-~]*$/, 'visible ASCII without #');
    const h = r.head.headers;
    for (let i = 0; i < h.length; i += 2) {
      assert.match(h[i], /^[!#$%&'*+.^_`|~0-9a-z-]+$/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control bytes is the point
      assert.doesNotMatch(h[i + 1], /[\0-\x08\n-\x1f\x7f]/);
    }
    assert.doesNotMatch(text.slice(0, r.info.headLength), /(^|[^\r])\n/);
  };
  fc.assert(fc.property(MUTATED, check), RUNS);
  fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 200 }), check), RUNS);
});

/** Chunked encoding of `pieces`, with optional extensions, in upper- or lowercase hex with leading zeros. */
const CHUNKED = fc
  .array(
    fc.record({
      data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      ext: fc.option(fc.tuple(TOKEN, fc.option(TOKEN)), { nil: undefined }),
      zeros: fc.nat(3),
      upper: fc.boolean(),
    }),
    { maxLength: 6 },
  )
  .map((pieces) => {
    const parts: Buffer[] = [];
    for (const p of pieces) {
      let size = p.data.length.toString(16);
      if (p.upper) size = size.toUpperCase();
      const ext = p.ext ? `;${p.ext[0]}${p.ext[1] ? `=${p.ext[1]}` : ''}` : '';
      parts.push(
        Buffer.from(`${'0'.repeat(p.zeros)}${size}${ext}\r\n`),
        Buffer.from(p.data),
        Buffer.from('\r\n'),
      );
    }
    parts.push(Buffer.from('0\r\nx-t: 1\r\n\r\n'));
    return { wire: Buffer.concat(parts), data: Buffer.concat(pieces.map((p) => Buffer.from(p.data))) };
  });

/** Feeds `wire` to a reader in reads cut at `cuts`; the output of every read, or the error. */
function feed(wire: Buffer, cuts: number[], decode: boolean, reframe: boolean) {
  const r = new BodyReader();
  r.start('chunked', -1, decode, reframe);
  const out: Buffer[] = [];
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, wire.length]) {
    if (to <= from) continue;
    const n = r.read(wire.subarray(0, to), from);
    if (n < 0) return { error: r.error, out: Buffer.alloc(0), used: -1, done: false };
    out.push(...r.decoded);
    r.decoded.length = 0;
    from += n;
    if (r.done) break;
  }
  return { error: '', out: Buffer.concat(out), used: from, done: r.done };
}

test('chunked: any split decodes to the data, and the re-framed body decodes to the same data', () => {
  fc.assert(
    fc.property(CHUNKED, fc.array(fc.nat(), { maxLength: 8 }), ({ wire, data }, cuts) => {
      const decoded = feed(wire, cuts, true, false);
      assert.equal(decoded.error, '');
      assert.ok(decoded.done);
      assert.equal(decoded.used, wire.length);
      assert.deepEqual(decoded.out, data);
      const reframed = feed(wire, cuts, false, true);
      assert.deepEqual(feed(reframed.out, [], true, false).out, data);
    }),
    RUNS,
  );
});

test('chunked: a mutated body never throws and either ends, waits, or fails with a reason', () => {
  fc.assert(
    fc.property(
      CHUNKED,
      fc.nat(),
      HAZARD,
      fc.array(fc.nat(), { maxLength: 4 }),
      ({ wire }, at, hazard, cuts) => {
        const pos = at % wire.length;
        const mutated = Buffer.concat([
          wire.subarray(0, pos),
          Buffer.from(hazard, 'latin1'),
          wire.subarray(pos),
        ]);
        const r = feed(mutated, cuts, false, true);
        if (r.used < 0) assert.notEqual(r.error, '');
        else assert.ok(r.used <= mutated.length);
      },
    ),
    RUNS,
  );
});

/** What llhttp (node:http's parser) made of `bytes`: the request it saw, or null when it refused it. */
async function llhttp(server: http.Server, port: number, bytes: string): Promise<Parts | null> {
  const seen = new Promise<Parts | null>((resolve) => {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      done();
      const headers: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      res.end();
      resolve({ method: req.method ?? '', path: req.url ?? '', headers });
    };
    const onError = () => {
      done();
      resolve(null);
    };
    const done = () => {
      server.off('request', onRequest);
      server.off('clientError', onError);
    };
    server.on('request', onRequest);
    server.on('clientError', onError);
    const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes, 'latin1'));
    socket.on('error', () => {});
    socket.resume();
    // An incomplete head is never a request: llhttp just sees the connection end.
    socket.on('close', () => setTimeout(onError, 20));
  });
  return seen;
}

test('differential against llhttp: never accept a head it refuses; agree on what both accept', async (t) => {
  const server = http.createServer();
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const cases = fc.sample(fc.oneof(MUTATED, PARTS.map(headText)), { numRuns: 400, seed: 13 });
  let bothAccepted = 0;
  const started = Date.now();
  for (const bytes of cases) {
    if (Date.now() - started > 2 * TIME_LIMIT_MS) break;
    const ours = parse(bytes);
    const ref = await llhttp(server, port, bytes);
    const why = JSON.stringify(bytes);
    if (ours.outcome !== 'complete') continue;
    // llhttp knows a fixed list of methods; any other token is a valid extension method (RFC 9110 9.1).
    if (ref === null && !http.METHODS.includes(ours.head.method)) continue;
    assert.ok(ref !== null, `weft accepted what llhttp refused: ${why}`);
    bothAccepted++;
    assert.equal(ours.head.method, ref.method, why);
    assert.equal(ours.head.path, ref.path.split('#')[0], why);
    const refHeaders = ref.headers
      .filter(([n]) => n.toLowerCase() !== 'host')
      .map(([n, v]) => [n.toLowerCase(), v]);
    const ourHeaders: string[][] = [];
    for (let i = 0; i < ours.head.headers.length; i += 2)
      ourHeaders.push([ours.head.headers[i], ours.head.headers[i + 1]]);
    assert.deepEqual(ourHeaders, refHeaders, why);
  }
  assert.ok(bothAccepted > 50, `only ${bothAccepted} heads were accepted by both: the generator is off`);
});
