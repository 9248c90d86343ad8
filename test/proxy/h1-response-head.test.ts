// HTTP/1.1 response heads as bytes: status, server, headers, framing line or content-length digits, and the connection line.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { HeldResponseHead } from '../../src/proxy/http/h1/response-head.ts';

/** What one hold + write puts on the wire. */
function written(
  framing: string,
  length: number,
  end: string,
  body: Buffer | null,
  headers = ['content-type', 'text/plain', 'server', 'nginx'],
): string {
  const out: Buffer[] = [];
  const socket = { write: (b: Buffer) => out.push(Buffer.from(b)) > 0, cork() {}, uncork() {} };
  const held = new HeldResponseHead();
  held.hold(200, 'OK', headers, framing, length, end, 'OVERWRITE', 'weft');
  held.write(socket as unknown as net.Socket, body);
  return Buffer.concat(out).toString('latin1');
}

test('a content length is written as its digits, for any number of them', () => {
  for (const n of [0, 7, 10, 1024, 3_145_728, 9_007_199_254_740_991])
    assert.equal(
      written('', n, '\r\n', null),
      `HTTP/1.1 200 OK\r\nserver: weft\r\ncontent-type: text/plain\r\ncontent-length: ${n}\r\n\r\n`,
    );
});

test('a framing line and a closing connection line, with the first body bytes in the same write', () => {
  assert.equal(
    written('transfer-encoding: chunked\r\n', -1, 'connection: close\r\n\r\n', Buffer.from('5\r\nhello\r\n')),
    'HTTP/1.1 200 OK\r\nserver: weft\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n' +
      'connection: close\r\n\r\n5\r\nhello\r\n',
  );
});

test('HTTP/1.0 keep-alive with a length and a body', () => {
  assert.equal(
    written('', 2, 'connection: keep-alive\r\n\r\n', Buffer.from('ok'), []),
    'HTTP/1.1 200 OK\r\nserver: weft\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok',
  );
});
