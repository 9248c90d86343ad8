// End to end: `weft run` units (sidecar + app) against a real control plane: mesh calls by name, exit codes, signals, no leftovers.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;
const SIDECAR_PID = /weft run: sidecar ready \(pid (\d+),/;

let dir: string;
let controlPlane: WeftProcess;
let server: string;
const units: WeftProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-run-'));
  controlPlane = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  server = controlPlane.ready[1];
});

after(async () => {
  // SIGTERM, not SIGKILL: a killed `weft run` cannot stop its sidecar (see docs/run.md).
  for (const unit of units) await unit.stop('SIGTERM');
  await controlPlane?.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

/** Starts `weft run ... -- node -e SCRIPT` and waits until the app prints `ready`. */
async function startUnit(flags: string[], script: string, ready: RegExp): Promise<WeftProcess> {
  const unit = await startWeft(['run', '--server', server, ...flags, '--', process.execPath, '-e', script], {
    ready,
    timeoutMs: 60_000,
  });
  units.push(unit);
  return unit;
}

function sidecarPid(stderr: string): number {
  const match = SIDECAR_PID.exec(stderr);
  assert.ok(match, `no sidecar ready line in:\n${stderr}`);
  return Number(match[1]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

/** Waits (generously) until the process is gone; the pid must not linger. */
async function assertGone(pid: number, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isAlive(pid), false, `${what} (pid ${pid}) is still running`);
}

/** An app that answers with its service's version and its own PORT, and says `app ready <pid>`. */
const SERVER_APP = `
const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ from: process.env.WEFT_SERVICE, version: process.env.WEFT_VERSION, port: process.env.PORT, path: req.url }));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('app ready ' + process.pid));
process.on('SIGTERM', () => { console.log('app got SIGTERM'); process.exit(0); });
`;

test('an app calls another mesh service by name through HTTP_PROXY, with fetch and with http.get', async () => {
  await startUnit(['--service', 'greeter', '--version', 'v7'], SERVER_APP, /^app ready \d+$/);
  const client = `
const http = require('node:http');
(async () => {
  const viaFetch = await (await fetch('http://greeter/hello?with=fetch')).json();
  const viaHttp = await new Promise((resolve, reject) => {
    http.get('http://greeter.default/hello?with=http', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
  console.log(JSON.stringify({ viaFetch, viaHttp, env: { PORT: process.env.PORT, HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, NODE_USE_ENV_PROXY: process.env.NODE_USE_ENV_PROXY, WEFT_SERVICE: process.env.WEFT_SERVICE, WEFT_NAMESPACE: process.env.WEFT_NAMESPACE } }));
})().catch((err) => { console.error(err); process.exit(9); });
`;
  // The greeter's endpoint reaches the client's sidecar over xDS shortly after it registered: retry a little.
  let last = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'client',
    '--',
    process.execPath,
    '-e',
    client,
  ]);
  for (let i = 0; i < 5 && last.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await runCli([
      'run',
      '--server',
      server,
      '--service',
      'client',
      '--',
      process.execPath,
      '-e',
      client,
    ]);
  }
  assert.equal(last.code, 0, last.stderr);
  const out = JSON.parse(last.stdout.trim().split('\n').at(-1) as string);
  assert.deepEqual(out.viaFetch, {
    from: 'greeter',
    version: 'v7',
    port: out.viaFetch.port,
    path: '/hello?with=fetch',
  });
  assert.deepEqual(out.viaHttp, {
    from: 'greeter',
    version: 'v7',
    port: out.viaFetch.port,
    path: '/hello?with=http',
  });
  assert.match(out.env.PORT, /^\d+$/);
  assert.notEqual(out.env.PORT, out.viaFetch.port, 'each unit has its own app port');
  assert.match(out.env.HTTP_PROXY, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(out.env.NO_PROXY.split(',').slice(0, 3).join(','), 'localhost,127.0.0.1,::1');
  assert.equal(out.env.NODE_USE_ENV_PROXY, '1');
  assert.equal(out.env.WEFT_SERVICE, 'client');
  assert.equal(out.env.WEFT_NAMESPACE, 'default');
  await assertGone(sidecarPid(last.stderr), "the client's sidecar");
});

test("weft run exits with the app's exit code and leaves no sidecar behind", async () => {
  const r = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'batch',
    '--',
    process.execPath,
    '-e',
    'process.exit(3)',
  ]);
  assert.equal(r.code, 3, r.stderr);
  await assertGone(sidecarPid(r.stderr), 'the sidecar');

  const killed = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'batch',
    '--',
    process.execPath,
    '-e',
    "process.kill(process.pid, 'SIGKILL')",
  ]);
  assert.equal(killed.code, 128 + 9, 'an app killed by a signal gives 128 + its number');
  await assertGone(sidecarPid(killed.stderr), 'the sidecar');
});

test('SIGTERM to weft run reaches the app once, then the sidecar drains and both are gone', async () => {
  const unit = await startUnit(
    ['--service', 'stoppable', '--label', 'team=books', '--drain-timeout', '2s'],
    SERVER_APP,
    /^app ready (\d+)$/,
  );
  const appPid = Number(unit.ready[1]);
  const sidecar = sidecarPid(unit.output().stderr);
  const argv = (await readFile(`/proc/${sidecar}/cmdline`, 'utf8')).split('\0');
  const flags = argv.slice(argv.indexOf('proxy') + 1).join(' ');
  assert.match(flags, /--service stoppable /, 'proxy flags given to weft run reach the sidecar');
  assert.match(flags, /--label team=books /);
  assert.match(flags, /--drain-timeout 2s /);
  assert.match(flags, /--app-port \d+ --inbound-port \d+ --outbound-port \d+ --admin-port \d+/);
  assert.doesNotMatch(
    flags,
    /--concurrency|--ready-timeout/,
    'defaults are left to the proxy, unit flags kept',
  );
  assert.ok(isAlive(appPid) && isAlive(sidecar));
  const exit = await unit.stop('SIGTERM');
  assert.equal(exit.code, 0, `the app exits 0 on SIGTERM, so does the unit:\n${unit.output().stderr}`);
  assert.equal(unit.output().stdout.match(/app got SIGTERM/g)?.length, 1, 'forwarded exactly once');
  await assertGone(appPid, 'the app');
  await assertGone(sidecar, 'the sidecar');
});

test('when the sidecar dies, weft run says so, stops the app and exits 1', async () => {
  const unit = await startUnit(['--service', 'fragile'], SERVER_APP, /^app ready (\d+)$/);
  const appPid = Number(unit.ready[1]);
  const sidecar = sidecarPid(unit.output().stderr);
  process.kill(sidecar, 'SIGKILL');
  const exit = await unit.exited;
  assert.equal(exit.code, 1);
  assert.match(
    unit.output().stderr,
    new RegExp(`the sidecar \\(weft proxy, pid ${sidecar}\\) exited with signal SIGKILL; stopping the app`),
  );
  assert.match(unit.output().stdout, /app got SIGTERM/);
  await assertGone(appPid, 'the app');
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('a sidecar that never gets ready is a clear error naming its admin /ready, and is stopped', async () => {
  const port = await closedPort();
  const r = await runCli([
    'run',
    '--service',
    'lonely',
    '--server',
    `http://127.0.0.1:${port}`,
    '--ready-timeout',
    '2s',
    '--',
    process.execPath,
    '-e',
    "console.log('app started')",
  ]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stdout, /app started/, 'the app never starts');
  assert.match(
    r.stderr,
    /error: the sidecar \(weft proxy --service lonely, pid (\d+)\) did not become ready: it was still waiting for the control plane at http:\/\/127\.0\.0\.1:\d+, which does not answer \(ECONNREFUSED\).*\[WEFT_SIDECAR_NOT_READY\]$/m,
  );
  // Said at once, not only when the wait ends.
  assert.match(
    r.stderr,
    /weft run: waiting for the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
  );
  const pid = Number(/pid (\d+)\) did not become ready/.exec(r.stderr)?.[1]);
  await assertGone(pid, 'the sidecar that was not ready');
});

test('bad input: a command that does not exist exits 127; bad flags exit 1 with one line', async () => {
  const missing = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'ghost',
    '--',
    'weft-no-such-command-x',
  ]);
  assert.equal(missing.code, 127, missing.stderr);
  assert.match(missing.stderr, /cannot start the app \(weft-no-such-command-x\)/);
  assert.doesNotMatch(missing.stderr, /unsettled top-level await/);
  await assertGone(sidecarPid(missing.stderr), 'the sidecar');

  const badPort = await runCli(['run', '--service', 'x', '--app-port', 'eighty', '--', 'true']);
  assert.equal(badPort.code, 1);
  assert.match(badPort.stderr, /^error: --app-port "eighty" is not a port/);
  const badService = await runCli(['run', '--service', 'Not_A_Label', '--', 'true']);
  assert.equal(badService.code, 1);
  assert.match(badService.stderr, /--service "Not_A_Label" must be a DNS label/);
  const noCommand = await runCli(['run', '--service', 'x']);
  assert.equal(noCommand.code, 1);
  assert.match(noCommand.stderr, /missing required argument 'command'/);
});

test('an app listening beyond loopback stops the unit (WEFT_APP_EXPOSED); --allow-exposed-app only warns', async () => {
  // Listens on every interface and prints the HOST it was given.
  const exposed =
    "require('node:http').createServer((q, r) => r.end('x')).listen(Number(process.env.PORT), () => console.log('host ' + process.env.HOST))";
  const refused = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'open',
    '--',
    process.execPath,
    '-e',
    exposed,
  ]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stdout, /host 127\.0\.0\.1/);
  assert.match(
    refused.stderr,
    /^error: the app listens on (::|0\.0\.0\.0) port \d+, beyond loopback.*\[WEFT_APP_EXPOSED\]$/m,
  );
  await assertGone(sidecarPid(refused.stderr), 'the sidecar of the exposed app');

  const warned = await runCli([
    'run',
    '--server',
    server,
    '--service',
    'open',
    '--allow-exposed-app',
    '--',
    process.execPath,
    '-e',
    `${exposed}; setTimeout(() => process.exit(0), 1500)`,
  ]);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /weft run: warning: the app listens on .* beyond loopback/);
});

test('a busy --inbound-port is named as such, without a hint about the control plane', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '0.0.0.0', resolve));
  const { port } = busy.address() as AddressInfo;
  try {
    const r = await runCli([
      'run',
      '--server',
      server,
      '--service',
      'busy',
      '--inbound-port',
      String(port),
      '--',
      'true',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot listen on 0\\.0\\.0\\.0:${port}.*\\[WEFT_PORT_IN_USE\\]`));
    assert.match(
      r.stderr,
      /did not become ready: it exited with code 1 before it was ready \(its error is above\) \[WEFT_SIDECAR_NOT_READY\]/,
    );
    assert.doesNotMatch(r.stderr, /is the control plane|waiting for the control plane/);
  } finally {
    busy.close();
  }
});
