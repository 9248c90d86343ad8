// The open-loop generator measures from the intended send time: a server that stalls shows up in its percentiles.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RateClientReport } from '../../bench/lib/rate-client.ts';

const CLIENT = fileURLToPath(new URL('../../bench/lib/rate-client.ts', import.meta.url));

function runClient(config: object): Promise<RateClientReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as RateClientReport) : reject(new Error(`exit ${code}: ${err}`)),
    );
  });
}

test('a 200 ms stall every second reaches p90 (no coordinated omission); every request is sent and answered', async (t) => {
  const body = 'x'.repeat(1024);
  let stalls = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // The stall blocks this process (the server), not the generator, which is a child process.
  const stall = setInterval(() => {
    stalls++;
    const end = Date.now() + 200;
    while (Date.now() < end);
  }, 1000);
  t.after(() => {
    clearInterval(stall);
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const report = await runClient({ port, path: '/', rate: 500, warmupS: 0.2, durationS: 3, connections: 20 });
  assert.equal(report.errors, 0);
  assert.equal(report.timedOut, 0);
  assert.equal(report.recorded, 1500);
  assert.ok(stalls >= 2, `the server stalled ${stalls} times`);
  // About 20% of the schedule falls inside a stall and waits ~100 ms on average: p90 must show it.
  // A closed-loop client would record at most one slow request per connection per stall (< 5%).
  assert.ok(report.latencyUs.p90 > 30_000, `p90 ${report.latencyUs.p90} µs should include the stalls`);
  assert.ok(report.latencyUs.max >= 150_000, `max ${report.latencyUs.max} µs should be about a whole stall`);
});
