// `weft demo`: starts the mesh, the product page answers through the ingress with the versions the applied YAML says, Ctrl-C leaves no process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { alive, descendants } from '../../src/demo/descendants.ts';
import { pickFreePorts } from '../../src/run/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const ISTIO = fileURLToPath(new URL('../../examples/bookinfo/istio/', import.meta.url));

let demo: WeftProcess | undefined;
let started: number[] = [];

after(async () => {
  // Only if the test failed half-way: stop the demo, and whatever it left, by pid.
  await demo?.stop('SIGINT');
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** The reviews version (or error) of one product page through the ingress. */
async function reviewsVersion(port: number): Promise<string> {
  const res = await request(`http://127.0.0.1:${port}/api/v1/products/0`, { headersTimeout: 10_000 });
  const body = await res.body.text();
  assert.equal(res.statusCode, 200, body);
  const page = JSON.parse(body) as { reviews: { version?: string; error?: string } };
  return page.reviews.version ?? `error: ${page.reviews.error}`;
}

test('weft demo: Bookinfo through the ingress, all-v1 applied gives only v1, SIGINT stops every process', async () => {
  const [port] = await pickFreePorts(1);
  demo = await startWeft(['demo', '--port', String(port), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'], {
    // The last line it prints, once the product page answers through the ingress.
    ready: /^Ctrl-C stops everything\.$/,
    timeoutMs: 90_000,
  });
  const { stdout } = demo.output();
  const [, app, server] = /weft demo ready: app (\S+) api (\S+)/.exec(stdout) ?? [];
  assert.equal(app, `http://localhost:${port}/productpage`);
  // Hints work from any directory: weft on the PATH (or node + the absolute bin), absolute example paths.
  const hint =
    /(?:weft|node (\/\S+\/bin\/weft\.js)) apply --server http:\/\/127\.0\.0\.1:\d+ -f (\/\S+\/examples\/bookinfo\/istio\/virtual-service-all-v1\.yaml)/.exec(
      stdout,
    );
  assert.ok(hint, stdout);
  assert.ok(existsSync(hint[2]), hint[2]);
  assert.match(
    stdout,
    /count which versions answer: +node \/\S+\/examples\/bookinfo\/traffic\.mjs http:\/\/localhost:/,
  );
  assert.match(stdout, /mutual TLS: +STRICT between the workloads/);

  // Everything the demo started, while it runs: control plane, gateway, 6 units with a sidecar and an app each.
  started = descendants(demo.child.pid as number);
  assert.ok(started.length >= 20, `the demo started ${started.length} processes`);

  // No rules yet: reviews v1, v2 and v3 all answer (round robin), through the ingress gateway.
  await eventually(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) seen.add(await reviewsVersion(port));
    assert.deepEqual([...seen].sort(), ['v1', 'v2', 'v3']);
  });
  const page = await request(app.replace('localhost', '127.0.0.1'));
  assert.equal(page.statusCode, 200);
  assert.match(await page.body.text(), /<h1>The Comedy of Errors<\/h1>/);

  // STRICT mutual TLS is real: details' sidecar refuses a plaintext request on its inbound port.
  const logs = /logs in (\S+)\)/.exec(stdout)?.[1] ?? '';
  const unitLog = await readFile(join(logs, 'details-v1.log'), 'utf8');
  const inbound = Number(/inbound :(\d+)/.exec(unitLog)?.[1]);
  assert.ok(inbound > 0, unitLog);
  const plaintext = await new Promise<string>((resolve) => {
    const socket = net.connect(inbound, '127.0.0.1', () =>
      socket.write('GET /details/0 HTTP/1.1\r\nHost: details\r\n\r\n'),
    );
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => resolve(`error ${answer}`));
    socket.on('close', () => resolve(`closed ${answer}`));
  });
  assert.doesNotMatch(plaintext, /HTTP\/1\.1 200/, 'plaintext is refused under STRICT');

  // The scenario of docs/demo.md: all traffic to v1.
  for (const file of ['destination-rule-all.yaml', 'virtual-service-all-v1.yaml']) {
    const r = await runCli(['apply', '-f', join(ISTIO, file), '--server', server]);
    assert.equal(r.code, 0, r.stderr);
  }
  await eventually(async () => {
    for (let i = 0; i < 6; i++) assert.equal(await reviewsVersion(port), 'v1');
  });

  // Ctrl-C: the demo stops everything it started and exits 0.
  const stopped = Date.now();
  demo.child.kill('SIGINT');
  const exit = await demo.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, demo.output().stderr);
  assert.ok(Date.now() - stopped < 30_000, 'stopping takes seconds, not a timeout');
  const survivors = started.filter(alive);
  assert.deepEqual(survivors, [], 'no process the demo started is left');
  demo = undefined;
});
