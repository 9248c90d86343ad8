// HTTP/1.1 head parsing and head encoding: header names in any case, optional whitespace, Host, framing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerLinesLength, putHeaderLines, putLatin1 } from '../../src/proxy/common/latin1.ts';
import {
  HeadInfo,
  headerLines,
  parseRequestHead,
  parseResponseHead,
} from '../../src/proxy/http/h1/parser.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';

function request(text: string): { outcome: string; head: RequestHead; info: HeadInfo } {
  const head = new RequestHead();
  const info = new HeadInfo();
  const outcome = parseRequestHead(Buffer.from(text, 'latin1'), head, info);
  return { outcome, head, info };
}

test('known and unknown header names are lowercased in any case; values lose SP/HTAB around them only', () => {
  const r = request(
    'GET /a?b HTTP/1.1\r\nHOST:  example.com \r\nContent-Type:\ttext/plain\t\r\nX-Request-Id: abc\r\n' +
      'X-Custom-Thing: a  b\r\nuSeR-aGeNt:curl\r\nX-Empty:\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n',
  );
  assert.equal(r.outcome, 'complete');
  assert.equal(r.head.authority, 'example.com');
  assert.equal(r.head.path, '/a?b');
  assert.deepEqual(r.head.headers, [
    'content-type',
    'text/plain',
    'x-request-id',
    'abc',
    'x-custom-thing',
    'a  b',
    'user-agent',
    'curl',
    'x-empty',
    '',
    'set-cookie',
    'a=1',
    'set-cookie',
    'b=2',
  ]);
});

test('a name that only resembles a known one is kept as sent (lowercased)', () => {
  // Same length as "content-type" / "x-request-id", differing in one character.
  const r = request(
    'GET / HTTP/1.1\r\nHost: h\r\nContent_Type: x\r\nx-request-iD: y\r\nX-Requesu-Id: z\r\n\r\n',
  );
  assert.equal(r.outcome, 'complete');
  assert.deepEqual(r.head.headers, ['content_type', 'x', 'x-request-id', 'y', 'x-requesu-id', 'z']);
});

test('framing headers are recognised in any case and kept out of the list', () => {
  const r = request(
    'POST / HTTP/1.1\r\nhost: h\r\nCONTENT-LENGTH: 5\r\nConnection: Keep-Alive, X-Hop\r\nx-hop: 1\r\n\r\n',
  );
  assert.equal(r.outcome, 'complete');
  assert.equal(r.info.framing, 'length');
  assert.equal(r.info.contentLength, 5);
  assert.deepEqual(r.head.headers, []);
  const c = request('POST / HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: Chunked\r\n\r\n');
  assert.equal(c.info.framing, 'chunked');
});

test('invalid names, conflicting Host headers and a missing Host are rejected', () => {
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\r\nbad name: x\r\n\r\n').outcome, 'invalid');
  const two = request('GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n');
  assert.equal(two.outcome, 'invalid');
  assert.equal(two.info.error, 'multiple host headers');
  assert.equal(request('GET / HTTP/1.1\r\nx: y\r\n\r\n').info.error, 'missing host header');
  // The Host of one parse does not leak into the next one on the same HeadInfo.
  const head = new RequestHead();
  const info = new HeadInfo();
  assert.equal(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), head, info), 'complete');
  head.reset();
  info.reset();
  assert.equal(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: b\r\n\r\n'), head, info), 'complete');
  assert.equal(head.authority, 'b');
});

test('a response head keeps a Host header and reads framing from mixed-case names', () => {
  const headers: string[] = [];
  const info = new HeadInfo();
  const text = 'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: x\r\nContent-Length: 3\r\nHost: h\r\n\r\nabc';
  assert.equal(parseResponseHead(Buffer.from(text), headers, info), 'complete');
  assert.equal(info.status, 200);
  assert.equal(info.contentLength, 3);
  assert.deepEqual(headers, ['server', 'nginx', 'date', 'x', 'host', 'h']);
});

test('putHeaderLines writes what headerLines serialises, byte for byte, short and long values', () => {
  const headers = ['a', '', 'x-long', 'v'.repeat(200), 'latin', 'caf\u00e9', 'n', '1'];
  const len = headerLinesLength(headers);
  const buf = Buffer.alloc(len + 4, 0xff);
  let off = putLatin1(buf, 0, 'ab');
  off = putHeaderLines(buf, off, headers);
  off = putLatin1(buf, off, 'cd');
  assert.equal(off, len + 4);
  assert.equal(buf.toString('latin1'), `ab${headerLines(headers)}cd`);
});

test('request lines: standard and other methods, versions other than 1.0/1.1 refused', () => {
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\r\n\r\n').head.method, 'GET');
  const purge = request('PURGE /x HTTP/1.1\r\nhost: h\r\n\r\n');
  assert.equal(purge.head.method, 'PURGE');
  assert.equal(purge.head.protocol, 'HTTP/1.1');
  // Methods are case-sensitive, and a lowercase one is refused (as nginx does): a lenient app that
  // takes "get" for GET would otherwise see a request a policy on GET never matched.
  assert.equal(request('get / HTTP/1.1\r\nhost: h\r\n\r\n').info.error, 'invalid method');
  const old = request('GET / HTTP/1.0\r\n\r\n');
  assert.equal(old.outcome, 'complete');
  assert.equal(old.head.protocol, 'HTTP/1.0');
  assert.equal(old.info.close, true);
  for (const v of ['HTTP/1.2', 'HTTP/2.0', 'HTTP/1.10', 'http/1.1'])
    assert.equal(request(`GET / ${v}\r\nhost: h\r\n\r\n`).info.error, 'unsupported HTTP version', v);
});

test('content-length must be digits; Connection values are matched in any case', () => {
  for (const bad of ['12a', '-1', '', '1 2'])
    assert.equal(
      request(`POST / HTTP/1.1\r\nhost: h\r\ncontent-length: ${bad}\r\n\r\n`).info.error,
      'invalid content-length',
      bad,
    );
  assert.equal(request('POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 007\r\n\r\n').info.contentLength, 7);
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\r\nConnection: CLOSE\r\n\r\n').info.close, true);
  assert.equal(request('GET / HTTP/1.1\r\nhost: h\r\nConnection: keep-alive\r\n\r\n').info.close, false);
  const ka10 = request('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n');
  assert.equal(ka10.info.close, false);
  assert.equal(
    request('POST / HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').info.error,
    'unsupported transfer-encoding',
  );
});

test('response status lines: canonical reasons and others are kept as sent', () => {
  const parse = (line: string): HeadInfo => {
    const info = new HeadInfo();
    assert.equal(
      parseResponseHead(Buffer.from(`${line}\r\ncontent-length: 0\r\n\r\n`), [], info),
      'complete',
    );
    return info;
  };
  assert.equal(parse('HTTP/1.1 200 OK').reason, 'OK');
  assert.equal(parse('HTTP/1.1 200 Okay then').reason, 'Okay then');
  assert.equal(parse('HTTP/1.1 404 Not Found').reason, 'Not Found');
  assert.equal(parse('HTTP/1.1 204').reason, '');
  assert.equal(parse('HTTP/1.0 503 Service Unavailable').status, 503);
  const info = new HeadInfo();
  assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 2x0 OK\r\n\r\n'), [], info), 'invalid');
});
