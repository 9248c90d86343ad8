// What a new user provokes in the first hour: each error is one line with its WEFT_* code, nothing is written before the checks, waits say why.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { textLine } from '../../src/observe/log.ts';
import { runCli, WEFT_BIN } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

let dir: string;
let controlPlane: WeftProcess;
let server: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-first-hour-'));
  controlPlane = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  server = controlPlane.ready[1];
});

after(async () => {
  await controlPlane?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('apply of a file with no documents exits 1: no objects passed to apply [WEFT_USAGE]', async () => {
  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '# nothing here\n---\n');
  const r = await runCli(['apply', '-f', empty, '--server', server]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: no objects passed to apply: .*empty\.yaml holds no resource documents \[WEFT_USAGE\]$/m,
  );
});

test('a busy --api port fails before the data directory is touched; a file in the way of --data-dir is a user error', async () => {
  const port = new URL(server).port;
  const second = join(dir, 'second');
  const busy = await runCli([
    'control-plane',
    '--data-dir',
    second,
    '--api',
    `127.0.0.1:${port}`,
    '--xds',
    '127.0.0.1:0',
  ]);
  assert.equal(busy.code, 1);
  assert.match(
    busy.stderr,
    /^error: --api 127\.0\.0\.1:\d+ is in use by another process.*\[WEFT_PORT_IN_USE\]$/m,
  );
  assert.equal(existsSync(second), false, 'nothing (no CA) was written');

  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  const notDir = await runCli([
    'control-plane',
    '--data-dir',
    join(file, 'x'),
    '--api',
    '127.0.0.1:0',
    '--xds',
    '127.0.0.1:0',
  ]);
  assert.equal(notDir.code, 1);
  assert.match(notDir.stderr, /^error: --data-dir .*a-file\/x is not a directory.*\[WEFT_USAGE\]$/m);
  assert.doesNotMatch(notDir.stderr, /internal error/);
});

test('commander parse errors carry WEFT_USAGE too', async () => {
  const r = await runCli(['apply', '--no-such-flag']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: unknown option '--no-such-flag' \[WEFT_USAGE\]$/m);
});

test('a proxy whose control plane does not answer says so within seconds and keeps retrying', async () => {
  const child = spawn(
    process.execPath,
    [
      WEFT_BIN,
      'proxy',
      '--service',
      'x',
      '--app-port',
      '9',
      '--server',
      'http://127.0.0.1:1',
      '--admin-port',
      '0',
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--log-format',
      'text',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    const said = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 20_000);
      child.stderr.on('data', () => {
        if (/waiting for the control plane at http:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED/.test(stderr)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    assert.ok(said, `no waiting line within 20 s:\n${stderr}`);
    assert.match(stderr, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}proxy: waiting/m, 'a readable line, not JSON');
    assert.equal(child.exitCode, null, 'still retrying');
  } finally {
    child.kill('SIGKILL');
  }
});

test('log lines as text: time, level, component, message, then the fields', () => {
  const line = textLine(
    JSON.stringify({ level: 40, time: 0, pid: 1, component: 'proxy', msg: 'hello', cause: 'a b', n: 2 }),
  );
  assert.match(line, /^\d\d:\d\d:\d\d\.000 WARN {2}proxy: hello cause="a b" n=2\n$/);
});
