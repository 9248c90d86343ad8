// postJson, the CA API client's one request: JSON out, status and text back, a deadline, a size limit, no undici.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, test } from 'node:test';
import { postJson } from '../../src/identity/post-json.ts';

/** An HTTP server on 127.0.0.1 answering with `handler`; closed after the tests. */
async function server(handler: http.RequestListener): Promise<URL> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  after(() => {
    s.closeAllConnections();
    s.close();
  });
  return new URL(`http://127.0.0.1:${(s.address() as net.AddressInfo).port}/api/v1/things`);
}

test('sends the body as JSON with the given headers and resolves any status with the text', async () => {
  let seen: { method?: string; type?: string; auth?: string; body: string } = { body: '' };
  const url = await server((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c;
    });
    req.on('end', () => {
      seen = { method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, body };
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"no"}}');
    });
  });
  const r = await postJson(url, { csr: 'x' }, { headers: { authorization: 'Bearer t' }, timeoutMs: 5000 });
  assert.deepEqual(r, { status: 403, text: '{"error":{"message":"no"}}' });
  assert.deepEqual(seen, { method: 'POST', type: 'application/json', auth: 'Bearer t', body: '{"csr":"x"}' });
});

test('a server that never answers fails with ETIMEDOUT at the deadline', async () => {
  const url = await server(() => {
    // never answers
  });
  await assert.rejects(postJson(url, {}, { timeoutMs: 200 }), { code: 'ETIMEDOUT' });
});

test('an answer over 1 MiB fails instead of being buffered', async () => {
  const url = await server((_req, res) => {
    res.writeHead(200);
    res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
  });
  await assert.rejects(postJson(url, {}, { timeoutMs: 10_000 }), /longer than/);
});

test('a refused connection rejects with the socket error code', async () => {
  const url = await server(() => {});
  url.port = '1';
  await assert.rejects(postJson(url, {}, { timeoutMs: 5000 }), { code: 'ECONNREFUSED' });
});
