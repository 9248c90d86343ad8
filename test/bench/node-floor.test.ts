// The Node.js floor relay of the benchmarks (a real child process): bytes pass unchanged both ways, one upstream connection per downstream one.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO } from '../../bench/lib/context.ts';
import { type Child, startChild } from '../../bench/lib/processes.ts';

const BIG = randomBytes(32 * 1024 * 1024);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const backendSockets = new Set<unknown>();
const backend = createServer((req, res) => {
  backendSockets.add(req.socket);
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.url === '/big') return void res.end(BIG);
    res.end(`${req.method} ${req.url} ${sha(Buffer.concat(parts))}`);
  });
});
let relay: Child;
let port = 0;

before(async () => {
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  relay = await startChild({
    name: 'node-floor',
    command: process.execPath,
    args: [join(REPO, 'bench', 'lib', 'node-floor.ts'), '0', String((backend.address() as AddressInfo).port)],
    readyLine: /node-floor ready (\d+)/,
    readyTimeoutMs: 30_000,
  });
  port = Number(relay.readyMatch![1]);
});

after(async () => {
  await relay?.stop();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
});

/** One request through the relay on `agent`; resolves with the status and the whole body. */
function send(agent: Agent, path: string, body?: Buffer, slowReader = false) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, method: body ? 'POST' : 'GET' }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      // A reader that waits lets the relay's writes queue, so it must pause and use fresh buffers.
      if (slowReader) {
        res.pause();
        setTimeout(() => res.resume(), 300);
      }
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A relay that loses bytes or stops reading leaves a request unanswered: the bound fails the test instead of hanging it.
test('node-floor relays requests and responses byte for byte, on one upstream connection per downstream one', {
  timeout: 60_000,
}, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const small = await send(agent, '/a');
    assert.equal(small.body.toString(), `GET /a ${sha(Buffer.alloc(0))}`);
    const upload = await send(agent, '/up', BIG);
    assert.equal(upload.body.toString(), `POST /up ${sha(BIG)}`);
    const download = await send(agent, '/big', undefined, true);
    assert.equal(download.status, 200);
    assert.equal(sha(download.body), sha(BIG), 'a 32 MiB response read slowly arrives unchanged');
    assert.equal(backendSockets.size, 1, 'three keep-alive requests, one upstream connection');
  } finally {
    agent.destroy();
  }
});
