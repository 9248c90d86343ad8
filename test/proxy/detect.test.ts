// Protocol detection from a connection's first bytes, and HTTP/1.1 head parsing edge cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyReader, HeadInfo, parseRequestHead } from '../../src/proxy/http/h1/parser.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';
import { detectAtTimeout, detectProtocol } from '../../src/proxy/listener/detect.ts';

test('detects TLS, the h2 preface, HTTP/1.x and opaque bytes; asks for more when unsure', () => {
  assert.equal(detectProtocol(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), 'tls');
  assert.equal(detectProtocol(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'h2c');
  assert.equal(detectProtocol(Buffer.from('PRI * HTTP/2')), 'need_more');
  assert.equal(detectProtocol(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), 'http/1.1');
  assert.equal(detectProtocol(Buffer.from('POST /x HTTP/1.0\r\n')), 'http/1.0');
  assert.equal(detectProtocol(Buffer.from('GET /partial')), 'need_more');
  assert.equal(detectProtocol(Buffer.from('GE')), 'need_more');
  assert.equal(detectProtocol(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), 'raw');
  assert.equal(detectProtocol(Buffer.from([0, 1, 2, 3])), 'raw');
  assert.equal(detectProtocol(Buffer.from('HELLO world SMTP\r\n')), 'raw');
});

function parse(text: string): { outcome: string; head: RequestHead; info: HeadInfo } {
  const head = new RequestHead();
  const info = new HeadInfo();
  return { outcome: parseRequestHead(Buffer.from(text), head, info), head, info };
}

test('request heads: origin, absolute and authority forms; hop-by-hop headers dropped', () => {
  const a = parse(
    'GET /p?q=1 HTTP/1.1\r\nHost: reviews:9080\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n',
  );
  assert.equal(a.outcome, 'complete');
  assert.equal(a.head.authority, 'reviews:9080');
  assert.equal(a.head.path, '/p?q=1');
  assert.deepEqual(a.head.headers, ['x-keep', '2']);
  const b = parse('GET http://ratings.default/x HTTP/1.1\r\nHost: ignored\r\n\r\n');
  assert.equal(b.head.authority, 'ratings.default');
  assert.equal(b.head.path, '/x');
  const c = parse('CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n');
  assert.equal(c.head.authority, 'db:5432');
  assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\n').outcome, 'incomplete');
});

test('request smuggling shapes are rejected', () => {
  assert.equal(
    parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n').outcome,
    'invalid',
  );
  assert.equal(
    parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n').outcome,
    'invalid',
  );
  assert.equal(
    parse('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').outcome,
    'invalid',
  );
  assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n').outcome, 'invalid');
  assert.equal(parse('GET / HTTP/1.1\r\nBad Header: x\r\nHost: a\r\n\r\n').outcome, 'invalid');
  assert.equal(parse('GET / HTTP/1.1\r\n\r\n').outcome, 'invalid');
});

test('chunked bodies: the end is found across reads; decode mode yields the payload and trailers', () => {
  const body = Buffer.from('5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\nNEXT');
  const raw = new BodyReader();
  raw.start('chunked', -1, false);
  let consumed = 0;
  for (let i = 0; i < body.length && !raw.done; i += 3)
    consumed += raw.read(body.subarray(i, Math.min(i + 3, body.length)), 0);
  assert.equal(raw.done, true);
  assert.equal(consumed, body.length - 4);
  const dec = new BodyReader();
  dec.start('chunked', -1, true);
  assert.equal(dec.read(body, 0), body.length - 4);
  assert.equal(Buffer.concat(dec.decoded).toString(), 'hello world');
  assert.equal(dec.trailers, 'x-t: 1\r\n');
  const bad = new BodyReader();
  bad.start('chunked', -1, false);
  assert.equal(bad.read(Buffer.from('zz\r\n'), 0), -1);
});

test('anything shaped like an HTTP request is HTTP (the codec answers it), never opaque TCP', () => {
  assert.equal(detectProtocol(Buffer.from('get / HTTP/1.1\r\nHost: a\r\n\r\n')), 'http/1.1');
  assert.equal(detectProtocol(Buffer.from('GET / HTTP/1.1\nHost: a\n\n')), 'http/1.1');
  assert.equal(detectProtocol(Buffer.from('GET /ok\tHTTP/1.1\nHost: a\n\n')), 'http/1.1');
  assert.equal(detectProtocol(Buffer.from('GET / HTTP/1.0\n\n')), 'http/1.0');
  assert.equal(detectProtocol(Buffer.from('GET /\r\n')), 'http/1.1', 'HTTP/0.9');
  assert.equal(detectProtocol(Buffer.from('GET /a\x00b HTTP/1.1\r\n')), 'http/1.1');
  assert.equal(detectProtocol(Buffer.from('GET /a\x00b')), 'need_more');
  assert.equal(detectProtocol(Buffer.from('GET / HTTP/1.2\r\n')), 'http/1.1');
  // Text protocols that are not HTTP stay opaque: memcached, Redis inline commands.
  assert.equal(detectProtocol(Buffer.from('get key\r\n')), 'raw');
  assert.equal(detectProtocol(Buffer.from('SET key value\r\n')), 'raw');
  assert.equal(detectProtocol(Buffer.from('get k\x00')), 'raw');
});

test('when the wait ends, the start of a request line is HTTP; nothing or a TLS byte is raw', () => {
  assert.equal(detectAtTimeout(Buffer.alloc(0)), 'raw');
  assert.equal(detectAtTimeout(Buffer.from('GE')), 'http/1.1');
  assert.equal(detectAtTimeout(Buffer.from('GET /admin HTTP/1.1')), 'http/1.1');
  assert.equal(detectAtTimeout(Buffer.from([0x16])), 'raw');
  assert.equal(detectAtTimeout(Buffer.from('SSH-2.0-x\r\n')), 'raw');
});
