// End to end: `weft check` against a real control plane with a real sidecar, then against a stopped one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CheckReport } from '../../src/check/types.ts';
import { runCli } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;

let dir: string;
let controlPlane: WeftProcess;
let unit: WeftProcess;
let server: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-check-'));
  controlPlane = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  server = controlPlane.ready[1];
  // A sidecar with an idle app, so that "every proxy is in sync" has one to look at.
  unit = await startWeft(
    [
      'run',
      '--service',
      'checked',
      '--server',
      server,
      '--',
      process.execPath,
      '-e',
      "console.log('up'); setInterval(() => {}, 1000)",
    ],
    { ready: /^up$/, timeoutMs: 60_000 },
  );
});

after(async () => {
  await unit?.stop('SIGTERM');
  await controlPlane?.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('every check passes against a healthy control plane with a connected proxy', async () => {
  const r = await runCli(['check', '--server', server]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const line of [
    `√ control plane API is reachable: ${server}`,
    '√ control plane is ready',
    '√ bootstrap answers with the xDS address: xDS 127.0.0.1:',
    '√ xDS server accepts connections',
    '√ control plane and CLI versions match',
    '√ trust bundle is present: 1 root',
    '√ root certificate is valid and does not expire within 30 days',
    '√ every connected proxy is in sync (no NACK): 1 proxy',
    '√ configuration has no mesh problems (weft analyze): no problems found',
    '√ clock difference with the control plane is under 5s',
    '· store: file: one control plane, its store in its data dir',
    'Status check results are √',
  ])
    assert.ok(r.stdout.includes(line), `missing "${line}" in:\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, /×/);
  for (const port of [15000, 15001, 15006, 15080, 15010])
    assert.match(r.stdout, new RegExp(`· port ${port} \\([A-Za-z -]+\\): (free|in use|cannot be bound)`));

  const json = await runCli(['check', '--server', server, '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as CheckReport;
  assert.equal(report.success, true);
  assert.deepEqual(
    report.categories.map((c) => c.category),
    [
      'control-plane',
      'store',
      'certificate-authority',
      'proxies',
      'configuration',
      'clock',
      'ports (informational)',
    ],
  );
  const outcomes = report.categories.flatMap((c) => c.results.map((r) => r.outcome));
  assert.deepEqual([...new Set(outcomes)].sort(), ['info', 'pass']);
});

test('a stopped control plane fails the first check with a hint and exits 1', async () => {
  const stopped = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'stopped'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  const url = stopped.ready[1];
  assert.equal((await stopped.stop('SIGTERM')).code, 0);
  const r = await runCli(['check', '--server', url]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    new RegExp(
      `× control plane API is reachable\\n    cannot reach ${url}/healthz \\(ECONNREFUSED\\)\\n    hint: start one with \`weft control-plane\``,
    ),
  );
  assert.match(r.stdout, /- trust bundle is present: skipped: the control plane API is not reachable/);
  assert.match(r.stdout, /Status check results are ×\n$/);
  assert.equal(r.stderr, '', 'a failed check is a result, not an error');
  const json = await runCli(['check', '--server', url, '-o', 'json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as CheckReport;
  assert.equal(report.success, false);
  assert.equal(report.categories[0].results[0].outcome, 'fail');
  assert.match(report.categories[0].results[0].hint ?? '', /weft control-plane/);
});

test('bad flags exit 1 with one line', async () => {
  const r = await runCli(['check', '--server', 'not a url']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: --server "not a url" is not a URL/);
});
