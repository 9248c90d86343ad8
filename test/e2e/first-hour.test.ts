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
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
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
  const said = textLine(
    JSON.stringify({
      level: 30,
      time: 0,
      msg: 'waiting for http://x (ECONNREFUSED)',
      server: 'http://x',
      n: 1,
    }),
  );
  assert.match(
    said,
    /INFO {2}waiting for http:\/\/x \(ECONNREFUSED\) n=1\n$/,
    'a value the message says is not repeated',
  );
});

test("a sidecar shows its admin port in proxy-status; get workloads/endpoints list the registry; the admin port answers as Envoy's", async (t) => {
  const proxy = await startWeft(
    [
      'proxy',
      '--service',
      'hello',
      '--app-port',
      '9',
      '--server',
      server,
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
    ],
    { ready: /weft proxy ready: .* inbound 0\.0\.0\.0:(\d+) .* admin 127\.0\.0\.1:(\d+)/, timeoutMs: 60_000 },
  );
  t.after(() => proxy.stop());
  const [, inbound, admin] = proxy.ready.map(Number);

  await eventuallyTrue('proxy-status lists the sidecar with its admin address', async () => {
    const r = await runCli(['proxy-status', '--server', server]);
    return new RegExp(
      `^sidecar~127\\.0\\.0\\.1~hello-\\S+\\s+hello\\s+.*127\\.0\\.0\\.1:${admin}\\s`,
      'm',
    ).test(r.stdout);
  });
  const workloads = await runCli(['get', 'workloads', '--server', server]);
  assert.equal(workloads.code, 0, workloads.stderr);
  assert.match(workloads.stdout, /^NAME\s+NAMESPACE\s+ADDRESS\s+SERVICE ACCOUNT\s+HEALTH\s+SOURCE$/m);
  assert.match(
    workloads.stdout,
    new RegExp(
      `^sidecar~127\\.0\\.0\\.1~hello-\\S+\\s+default\\s+127\\.0\\.0\\.1:${inbound}\\s+hello\\s+HEALTHY\\s+proxy$`,
      'm',
    ),
  );
  const endpoints = await runCli(['get', 'endpoints', '-A', '--server', server]);
  assert.match(
    endpoints.stdout,
    new RegExp(
      `^hello\\.default\\.svc\\.cluster\\.local\\s+127\\.0\\.0\\.1:${inbound}\\s+HEALTHY\\s+default/sidecar~127\\.0\\.0\\.1~hello-`,
      'm',
    ),
  );

  const get = async (path: string, method = 'GET') => request(admin, { path, method });
  const help = await get('/help');
  for (const path of [
    '/stats',
    '/listeners',
    '/certs',
    '/server_info',
    '/logging',
    '/config_dump',
    '/clusters',
  ])
    assert.match(help.body.toString(), new RegExp(`^  ${path} `, 'm'));
  const unknown = await get('/nope');
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.toString(), /no admin endpoint \/nope\nadmin commands are:/);
  assert.match(
    (await get('/stats?filter=downstream_cx_total')).body.toString(),
    /^envoy_listener_downstream_cx_total\{.*\}: \d+$/m,
  );
  assert.equal((await get('/stats?filter=(')).status, 400);
  assert.match((await get('/listeners')).body.toString(), /::0\.0\.0\.0:\d+$/m);
  const certs = (await get('/certs')).json as {
    certificates: { name: string; certChain?: { subjectAltNames: string[] }[] }[];
  };
  const workload = certs.certificates.find((c) => c.name === 'default');
  assert.deepEqual(workload?.certChain?.[0].subjectAltNames, [
    'URI:spiffe://cluster.local/ns/default/sa/hello',
  ]);
  const info = (await get('/server_info')).json as { state: string; node: { id: string } };
  assert.equal(info.state, 'LIVE');
  assert.match(info.node.id, /^sidecar~127\.0\.0\.1~hello-/);
  assert.match((await get('/logging')).body.toString(), /weft: warn/);
  assert.equal((await get('/logging?level=debug')).status, 405);
  assert.equal((await get('/logging?level=debug', 'POST')).status, 200);
  assert.match((await get('/logging')).body.toString(), /weft: debug/);
});
