// Every scenario file of examples/bookinfo/istio applies to a real control plane, without warnings.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const ISTIO = fileURLToPath(new URL('../../examples/bookinfo/istio/', import.meta.url));

let dir: string;
let controlPlane: WeftProcess;
let server: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-bookinfo-yaml-'));
  controlPlane = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  server = controlPlane.ready[1];
});

after(async () => {
  await controlPlane?.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('each scenario applies (after destination-rule-all.yaml) and is stored as written', async () => {
  const files = (await readdir(ISTIO)).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 10, `the scenarios are there: ${files.join(', ')}`);
  const first = await runCli(['apply', '-f', join(ISTIO, 'destination-rule-all.yaml'), '--server', server]);
  assert.equal(first.code, 0, first.stderr);
  for (const file of files) {
    const r = await runCli(['apply', '-f', join(ISTIO, file), '--server', server]);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    assert.equal(r.stderr, '', `${file} applies without warnings`);
    assert.match(r.stdout, /(created|configured|unchanged)\n$/, file);
  }
  const policies = await runCli([
    'get',
    'authorizationpolicy',
    'details-deny-productpage',
    '-o',
    'json',
    '--server',
    server,
  ]);
  assert.equal(policies.code, 0, policies.stderr);
  assert.deepEqual(JSON.parse(policies.stdout).spec.rules[0].from[0].source.principals, [
    'cluster.local/ns/default/sa/productpage',
  ]);
});
