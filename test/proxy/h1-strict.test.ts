// HTTP/1.1 strictness: control bytes, bare LF, fragments, methods and the strict chunked decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyReader, HeadInfo, parseRequestHead, STATUS_TEXT } from '../../src/proxy/http/h1/parser.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';

function request(text: string): { outcome: string; head: RequestHead; info: HeadInfo } {
  const head = new RequestHead();
  const info = new HeadInfo();
  const outcome = parseRequestHead(Buffer.from(text, 'latin1'), head, info);
  return { outcome, head, info };
}

test('control bytes in the request target, header names and values are refused', () => {
  const ctl = [0, 1, 8, 9, 11, 12, 13, 14, 31, 127];
  for (const c of ctl) {
    const b = String.fromCharCode(c);
    assert.equal(request(`GET /a${b}b HTTP/1.1\r\nhost: h\r\n\r\n`).outcome, 'invalid', `target byte ${c}`);
    assert.equal(
      request(`GET / HTTP/1.1\r\nhost: h\r\nx-a${b}b: v\r\n\r\n`).outcome,
      'invalid',
      `name byte ${c}`,
    );
    if (c !== 9)
      assert.equal(
        request(`GET / HTTP/1.1\r\nhost: h\r\nx-a: v${b}w\r\n\r\n`).outcome,
        'invalid',
        `value byte ${c}`,
      );
  }
  // HTAB inside a value is allowed (RFC 9110 5.5), as are obs-text bytes.
  const tab = request('GET / HTTP/1.1\r\nhost: h\r\nx-a: v\tw\xe9\r\n\r\n');
  assert.equal(tab.outcome, 'complete');
  assert.equal(tab.head.get('x-a'), 'v\tw\xe9');
  // Raw non-ASCII in the target must be percent-encoded.
  assert.equal(request('GET /caf\xe9 HTTP/1.1\r\nhost: h\r\n\r\n').outcome, 'invalid');
});

test('bare LF line ends are refused, complete or not, so no second request hides behind them', () => {
  // The smuggling shape from issue 13: HTAB instead of SP and LF-only lines, then a CRLF request.
  const smuggle = 'GET /ok\tHTTP/1.1\nHost: a\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n';
  assert.equal(request(smuggle).outcome, 'invalid');
  assert.equal(request('GET / HTTP/1.1\nhost: h\n\n').outcome, 'invalid', 'LF-only head, never completes');
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\nx: y\r\n\r\n').outcome, 'invalid');
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\r\n').outcome, 'incomplete');
});

test('fragments are stripped from the path: a DENY on /admin sees /admin', () => {
  assert.equal(request('GET /admin#x HTTP/1.1\r\nhost: h\r\n\r\n').head.path, '/admin');
  assert.equal(request('GET /admin?a=1#x HTTP/1.1\r\nhost: h\r\n\r\n').head.path, '/admin?a=1');
  assert.equal(request('GET http://h/admin#frag HTTP/1.1\r\n\r\n').head.path, '/admin');
});

test('methods: uppercase tokens only; content-length past 2^53 is refused', () => {
  assert.equal(request('PURGE / HTTP/1.1\r\nhost: h\r\n\r\n').outcome, 'complete');
  for (const m of ['get', 'Get', 'GE T', 'G(T'])
    assert.equal(request(`${m} / HTTP/1.1\r\nhost: h\r\n\r\n`).outcome, 'invalid', m);
  assert.equal(request('GET /\r\n\r\n').outcome, 'invalid', 'HTTP/0.9');
  assert.equal(
    request('POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 99999999999999999999\r\n\r\n').info.error,
    'invalid content-length',
  );
  assert.equal(STATUS_TEXT[401], 'Unauthorized');
});

/** Runs `body` through a chunked reader in `mode`, one byte per read when `split`. */
function dechunk(body: string, mode: 'decode' | 'reframe' | 'locate', split = false) {
  const r = new BodyReader();
  r.start('chunked', -1, mode === 'decode', mode === 'reframe');
  const buf = Buffer.from(body, 'latin1');
  const out: Buffer[] = [];
  let used = 0;
  const step = split ? 1 : buf.length;
  for (let at = 0; at < buf.length && !r.done; at += step) {
    const n = r.read(buf.subarray(0, Math.min(buf.length, at + step)), at);
    if (n < 0) return { error: r.error, used, out: '', done: false, trailers: '' };
    used += n;
    out.push(...r.decoded);
    r.decoded.length = 0;
  }
  return { error: '', used, out: Buffer.concat(out).toString('latin1'), done: r.done, trailers: r.trailers };
}

test('chunked: sizes, extensions and trailers are decoded, and re-framed without the client bytes', () => {
  const body = '5;name=val;q="a b"\r\nhello\r\n0A\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nNEXT';
  for (const split of [false, true]) {
    const d = dechunk(body, 'decode', split);
    assert.equal(d.out, 'hello0123456789');
    assert.equal(d.used, body.length - 4, 'the next message is not consumed');
    assert.equal(d.trailers, 'x-sum: 1\r\n');
    const f = dechunk(body, 'reframe', split);
    assert.equal(f.out, '5\r\nhello\r\na\r\n0123456789\r\n0\r\nx-sum: 1\r\n\r\n');
  }
});

test('chunked: malformed sizes, extensions, CRLFs and trailers are errors', () => {
  const bad: [string, string][] = [
    ['g\r\nx\r\n0\r\n\r\n', 'invalid chunk size'],
    [' 5\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['5 \r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
    ['-1\r\n', 'invalid chunk size'],
    ['+5\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['0x5\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
    ['fffffffffffffffff\r\n', 'invalid chunk size'],
    ['5\nhello\r\n0\r\n\r\n', 'bare LF in chunked body'],
    ['5\r\nhello\n0\r\n\r\n', 'missing CRLF after chunk data'],
    ['5\r\nhelloXX0\r\n\r\n', 'missing CRLF after chunk data'],
    ['5\r\nhello\r\r\n0\r\n\r\n', 'missing CRLF after chunk data'],
    ['5;\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
    ['5;a="x\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
    ['5;a=b c\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
    ['5\r\nhello\r\n0\r\nbad trailer\r\n\r\n', 'invalid trailer line'],
    ['5\r\nhello\r\n0\r\nx: a\x00b\r\n\r\n', 'invalid trailer line'],
    ['5\r\nhello\r\n0\r\n\n', 'bare LF in chunked body'],
    [`${'0'.repeat(5000)}\r\n`, 'chunk line too long'],
  ];
  for (const [body, error] of bad) {
    assert.equal(dechunk(body, 'decode').error, error, JSON.stringify(body));
    assert.equal(dechunk(body, 'locate', true).error, error, `${JSON.stringify(body)} byte by byte`);
  }
});
