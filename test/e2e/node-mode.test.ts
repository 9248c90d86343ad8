// End to end: `weft node` serves several workloads in one process, each with its own identity, mTLS and policies.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';
import { type Mesh, metric, openssl, startMesh } from './mtls-mesh.ts';

const NODE_READY = /weft node ready: api (http:\/\/127\.0\.0\.1:\d+)/;

/** A workload registered with the agent; it lives as long as `events` stays open. */
interface Registered {
  id: string;
  spiffeId: string;
  inbound: number;
  outbound: number;
  admin: number;
  events: http.ClientRequest;
  /** Every event line the agent sent, in order. */
  lines: string[];
  ended: Promise<void>;
}

let mesh: Mesh;
let agent: WeftProcess;
let api: string;
const apps: Echo[] = [];
const workloads: Registered[] = [];

/** POST /v1/workloads with these weft proxy flags; resolves once the agent says the workload is ready. */
function register(args: string[]): Promise<Registered> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`workload ${args.join(' ')} was not ready within 60 s`)),
      60_000,
    );
    const req = http.request(new URL('/v1/workloads', api), { method: 'POST' }, (res) => {
      const lines: string[] = [];
      let started: Record<string, unknown> | undefined;
      let buffered = '';
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          lines.push(line);
          const event = JSON.parse(line) as Record<string, unknown>;
          if (event.event === 'started') started = event;
          if (event.event === 'failed') reject(new Error(line));
          if (event.event === 'ready' && started) {
            clearTimeout(timer);
            const ports = started.ports as { inbound: number; outbound: number; admin: number };
            const w = {
              id: String(started.id),
              spiffeId: String(started.spiffeId),
              ...ports,
              events: req,
              lines,
              ended,
            };
            workloads.push(w);
            resolve(w);
          }
        }
      });
    });
    req.on('error', reject);
    req.end(
      JSON.stringify({ args: [...args, '--inbound-port', '0', '--outbound-port', '0', '--admin-port', '0'] }),
    );
  });
}

let a: Registered;
let b: Registered;
let c: Registered;

before(async () => {
  mesh = await startMesh();
  agent = await startWeft(['node', '--listen', '127.0.0.1:0', '--server', mesh.server], {
    ready: NODE_READY,
  });
  api = agent.ready[1];
  for (const name of ['b', 'a', 'c']) apps.push(await startHttpEcho(name));
  [b, a, c] = await Promise.all(
    ['b', 'a', 'c'].map((name, i) =>
      register(['--service', name, '--app-port', String(apps[i].port), '--drain-timeout', '1s']),
    ),
  );
});

after(async () => {
  for (const w of workloads) w.events.destroy();
  await agent?.stop('SIGTERM');
  await mesh?.stop();
  for (const app of apps) await app.close();
});

async function call(from: Registered): Promise<number> {
  return (await request(from.outbound, { host: 'b', path: '/' })).status;
}

function plaintext(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    socket.on('close', () => resolve(data === '' ? 'closed without an answer' : data.slice(0, 12)));
  });
}

async function agentWorkloads(): Promise<{ id: string; spiffeId: string }[]> {
  const r = await request(Number(new URL(api).port), { path: '/v1/workloads' });
  return (JSON.parse(r.body.toString()) as { workloads: { id: string; spiffeId: string }[] }).workloads;
}

test('three workloads in one process: each its own SPIFFE ID, ports and certificate', async () => {
  assert.deepEqual(
    [a.spiffeId, b.spiffeId, c.spiffeId],
    ['a', 'b', 'c'].map((sa) => `spiffe://cluster.local/ns/default/sa/${sa}`),
  );
  assert.equal(new Set([a, b, c].flatMap((w) => [w.inbound, w.outbound, w.admin])).size, 9);
  assert.equal((await agentWorkloads()).length, 3);
  await eventuallyTrue('a reaches b through the mesh', async () => (await call(a)) === 200);
  const shown = await openssl(['s_client', '-connect', `127.0.0.1:${b.inbound}`, '-showcerts'], '');
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(shown.output)?.[0];
  assert.ok(leaf, shown.output);
  const sans = await openssl(['x509', '-noout', '-ext', 'subjectAltName'], leaf);
  assert.match(sans.output, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/b\b/);
  assert.doesNotMatch(sans.output, /sa\/[ac]\b/, "b's inbound presents b's certificate only");
});

test('STRICT mTLS and a DENY by principal apply to the workload they select, with the caller identity each presents', async () => {
  await mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: b-strict, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-a, namespace: default }
spec:
  selector: { matchLabels: { app: b } }
  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/a"] } }] }]
`);
  await eventuallyTrue('a is denied by b', async () => (await call(a)) === 403);
  assert.equal(await call(c), 200, 'c, in the same agent process, is still allowed');
  // Counters are per workload although the process is shared: only b's admin port counts b's denials.
  assert.ok((await metric(b.admin, 'envoy_http_rbac_denied')) >= 1);
  for (const other of [a, c]) assert.equal(await metric(other.admin, 'envoy_http_rbac_denied'), 0);
  await eventuallyTrue(
    'b refuses plaintext',
    async () => !(await plaintext(b.inbound)).startsWith('HTTP/1.1 200'),
  );
  assert.equal(await plaintext(a.inbound).then((r) => r.slice(0, 12)), 'HTTP/1.1 200', 'a is not STRICT');
  for (const [kind, name] of [
    ['authorizationpolicy', 'deny-a'],
    ['peerauthentication', 'b-strict'],
  ]) {
    const r = await runCli(['delete', kind, name, '-n', 'default', '--server', mesh.server]);
    assert.equal(r.code, 0, r.stderr);
  }
  await eventuallyTrue('a is allowed again', async () => (await call(a)) === 200);
});

test('a registration that goes away drains its workload; the others keep serving', async () => {
  const app = await startHttpEcho('d');
  apps.push(app);
  const d = await register(['--service', 'd', '--app-port', String(app.port), '--drain-timeout', '100ms']);
  assert.ok((await agentWorkloads()).some((w) => w.id === d.id));
  d.events.destroy();
  await eventuallyTrue(
    'd is gone from the agent',
    async () => !(await agentWorkloads()).some((w) => w.id === d.id),
  );
  await eventuallyTrue(
    'd stopped listening',
    async () => (await plaintext(d.inbound)) === 'error ECONNREFUSED',
  );
  assert.equal(await call(c), 200);
});

test('weft run --node: the app reaches b by name through its workload; when it exits the workload is removed', async () => {
  const client = `fetch('http://b/').then((r) => { console.log('status ' + r.status); process.exit(r.status === 200 ? 0 : 3); }, (e) => { console.error(e); process.exit(9); });`;
  let last = await runCli(['run', '--node', api, '--service', 'e', '--', process.execPath, '-e', client]);
  for (let i = 0; i < 5 && last.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await runCli(['run', '--node', api, '--service', 'e', '--', process.execPath, '-e', client]);
  }
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.stdout, /status 200/);
  assert.match(last.stderr, /sidecar ready \(node agent http:\/\/127\.0\.0\.1:\d+, pid \d+,/);
  await eventuallyTrue(
    'e is gone from the agent',
    async () => !(await agentWorkloads()).some((w) => w.id.startsWith('e.')),
  );
  assert.equal(agent.child.exitCode, null, 'the agent keeps running');
});

test('weft run --node --token-file: weft run reads the token and the agent gets it, not the path', async () => {
  const made = await runCli([
    'token',
    'create',
    '--namespace',
    'default',
    '--service-account',
    'f',
    '-o',
    'token',
    '--server',
    mesh.server,
  ]);
  assert.equal(made.code, 0, made.stderr);
  const file = join(mesh.dir, 'f.token');
  await writeFile(file, made.stdout, { mode: 0o600 });
  const client = `fetch('http://b/').then((r) => process.exit(r.status === 200 ? 0 : 3), () => process.exit(9));`;
  let last = await runCli([
    'run',
    '--node',
    api,
    '--service',
    'f',
    '--token-file',
    file,
    '--',
    process.execPath,
    '-e',
    client,
  ]);
  for (let i = 0; i < 5 && last.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await runCli([
      'run',
      '--node',
      api,
      '--service',
      'f',
      '--token-file',
      file,
      '--',
      process.execPath,
      '-e',
      client,
    ]);
  }
  assert.equal(last.code, 0, last.stderr);
  const wrong = await runCli([
    'run',
    '--node',
    api,
    '--service',
    'g',
    '--token-file',
    file,
    '--',
    process.execPath,
    '-e',
    '',
  ]);
  assert.equal(wrong.code, 1, 'a token for service account f does not serve g');
  assert.match(wrong.stderr, /grants namespace default, service account f/);
});

test('bad workloads are refused with the flag named and WEFT_USAGE; an unreachable agent says how to start one', async () => {
  const bad = await request(Number(new URL(api).port), {
    method: 'POST',
    path: '/v1/workloads',
    body: JSON.stringify({ args: ['--service', 'x', '--app-port', '1', '--concurrency', '2'] }),
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(JSON.parse(bad.body.toString()).code, 'WEFT_USAGE');
  assert.match(bad.body.toString(), /--concurrency is not for a workload of a node agent/);
  const badName = await request(Number(new URL(api).port), {
    method: 'POST',
    path: '/v1/workloads',
    body: JSON.stringify({ args: ['--service', 'Bad!', '--app-port', '1'] }),
  });
  assert.equal(badName.status, 400);
  assert.match(JSON.parse(badName.body.toString()).error, /--service "Bad!" must be a DNS label/);
  // The agent may run with more rights than its callers: it reads no file and reaches no control plane they name.
  for (const [flag, value] of [
    ['--token-file', '/etc/shadow'],
    ['--server', 'http://127.0.0.1:1'],
  ]) {
    const refused = await request(Number(new URL(api).port), {
      method: 'POST',
      path: '/v1/workloads',
      body: JSON.stringify({ args: ['--service', 'x', '--app-port', '1', flag, value] }),
    });
    assert.equal(refused.status, 400, flag);
    assert.match(
      JSON.parse(refused.body.toString()).error,
      new RegExp(`^${flag} is not for a workload of a node agent`),
    );
  }
  const otherServer = await runCli([
    'run',
    '--node',
    api,
    '--server',
    'http://127.0.0.1:1',
    '--service',
    'x',
    '--',
    process.execPath,
    '-e',
    '',
  ]);
  assert.equal(otherServer.code, 1);
  assert.match(
    otherServer.stderr,
    /--server http:\/\/127\.0\.0\.1:1: with --node the workload uses the node agent's control plane.*\[WEFT_USAGE\]/,
  );
  const gone = await runCli([
    'run',
    '--node',
    'http://127.0.0.1:1',
    '--service',
    'x',
    '--',
    process.execPath,
    '-e',
    '',
  ]);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /cannot reach the node agent at http:\/\/127\.0\.0\.1:1 .*weft node/);
  assert.match(gone.stderr, /\[WEFT_SIDECAR_NOT_READY\]/);
});

test('weft node refuses an API address beyond loopback', async () => {
  const r = await runCli(['node', '--listen', '0.0.0.0:15020', '--server', mesh.server]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--listen "0\.0\.0\.0:15020" must be a loopback HOST:PORT.*\[WEFT_USAGE\]/);
});
