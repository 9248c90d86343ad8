// End to end: mesh DNS and caller-side routing across three "hosts": unmodified clients (curl, Python, grpc-js, a raw RESP client) of a captured app call services by name, over mTLS, under routing rules and policy.
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { WEFT_BIN } from '../helpers/cli.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { createHosts, type Host, type Hosts } from '../helpers/netns.ts';

const run = promisify(execFile);

/** How long one process may take to print its ready line on a busy machine. */
const READY_TIMEOUT_MS = 60_000;
/** The captured app's group (weft run's default --capture-gid). */
const APP_GID = '1337';
/** The client unit's sidecar: admin port and mesh DNS port on host 2. */
const CLIENT_ADMIN = 8003;
const CLIENT_DNS = 8053;

/** HTTP app: its service, version, path and the caller identity its sidecar saw. */
const HTTP_APP = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json');
s.end(JSON.stringify({ name: process.env.WEFT_SERVICE, version: process.env.WEFT_VERSION, path: q.url, xfcc: q.headers['x-forwarded-client-cert'] ?? '' })); })
.listen(Number(process.env.PORT), process.env.HOST);`;
/** A tiny Redis-protocol server: PING and ECHO. */
const RESP_APP = `require('node:net').createServer((s) => s.on('data', (d) => { const t = d.toString();
const echo = /ECHO\\r\\n\\$\\d+\\r\\n([^\\r]*)/i.exec(t);
s.write(/PING/i.test(t) ? '+PONG\\r\\n' : echo ? '$' + echo[1].length + '\\r\\n' + echo[1] + '\\r\\n' : '-ERR unknown\\r\\n'); }))
.listen(Number(process.env.PORT), process.env.HOST);`;
/** A gRPC server (grpc-js, no proto: bytes in, bytes out) with one unary method. */
const GRPC_APP = `const grpc = require('@grpc/grpc-js'); const id = (b) => b; const server = new grpc.Server();
server.addService({ say: { path: '/weft.Echo/Say', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
{ say: (call, cb) => cb(null, Buffer.from('hello ' + call.request + ' from ' + process.env.WEFT_SERVICE)) });
server.bindAsync(process.env.HOST + ':' + process.env.PORT, grpc.ServerCredentials.createInsecure(), () => {});`;
/** The hosts' own resolver on host 1: outside.test is 10.213.0.1, every other name NXDOMAIN. */
const UPSTREAM_DNS = `const dns = require('dns-packet'); const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, from) => { const q = dns.decode(m); const name = q.questions[0]?.name;
const known = name === 'outside.test' && q.questions[0].type === 'A';
s.send(dns.encode({ id: q.id, type: 'response', flags: known ? 0 : 3, questions: q.questions,
answers: known ? [{ type: 'A', name, ttl: 5, data: '10.213.0.1' }] : [] }), from.port, from.address); });
s.bind(53, '10.213.0.1', () => console.log('upstream dns ready'));`;
/** No proxy settings of any kind reach the clients. */
const NO_PROXY_ENV = {
  HTTP_PROXY: '',
  http_proxy: '',
  HTTPS_PROXY: '',
  https_proxy: '',
  grpc_proxy: '',
  NO_PROXY: '',
  no_proxy: '',
};

let net: Hosts | { refused: string };
let h1: Host;
let h2: Host;
let h3: Host;
let dir: string;
let server: string;
let operatorToken: string;
const procs: ChildProcessWithoutNullStreams[] = [];

/** Starts `command args` in `host`; resolves with the output matched by `ready` (stdout or stderr). */
function startIn(
  host: Host,
  command: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<RegExpMatchArray> {
  const child = (net as Hosts).spawn(host, command, args, { WEFT_LOG_LEVEL: 'warn', ...env });
  procs.push(child);
  let output = '';
  const what = `${command} ${args.slice(0, 4).join(' ')} in ${host.ns}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready within ${READY_TIMEOUT_MS} ms:\n${output}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${output}`));
    });
  });
}

/** `weft run` of `app` serving `service` on `host` (ports base..base+3), with extra flags. */
function unit(host: Host, service: string, base: number, app: string, extra: string[]) {
  return startIn(
    host,
    process.execPath,
    [
      WEFT_BIN,
      'run',
      ...['--service', service, '--server', server, '--drain-timeout', '1s', ...extra],
      ...['--app-port', String(base), '--inbound-port', String(base + 1)],
      ...['--outbound-port', String(base + 2), '--admin-port', String(base + 3)],
      '--',
      process.execPath,
      '-e',
      app,
    ],
    /weft run: sidecar ready/,
    { WEFT_TOKEN: operatorToken },
  );
}

/** Runs `command` on host 2 as the captured app would: its group, no proxy settings. */
function asApp(command: string, args: string[], timeoutMs = 20_000) {
  return (net as Hosts).exec(h2, 'setpriv', ['--regid', APP_GID, '--clear-groups', command, ...args], {
    timeoutMs,
    env: NO_PROXY_ENV,
  });
}

/** curl with no -x, as the app: the status and the JSON body. */
async function appCurl(url: string, headers: string[] = []) {
  const args = ['-sS', '-m', '10', '-o', '-', '-w', '\n%{http_code}', ...headers.flatMap((h) => ['-H', h])];
  const r = await asApp('curl', [...args, url]);
  const lines = r.stdout.split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  let body: Record<string, string> = {};
  try {
    body = JSON.parse(text);
  } catch {}
  return { status, body, raw: `${r.stdout} ${r.stderr}` };
}

async function weft(args: string[], input = '') {
  const r = await (net as Hosts).exec(h1, process.execPath, [WEFT_BIN, ...args, '--server', server], {
    input,
    env: { WEFT_TOKEN: operatorToken },
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** One counter of the client sidecar's `/stats/prometheus` whose line has every part (0 when absent). */
async function clientMetric(name: string, ...parts: string[]): Promise<number> {
  const r = await (net as Hosts).exec(h2, 'curl', [
    '-sS',
    '-m',
    '10',
    `http://127.0.0.1:${CLIENT_ADMIN}/stats/prometheus`,
  ]);
  for (const line of r.stdout.split('\n'))
    if (line.startsWith(name) && parts.every((p) => line.includes(p)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  return 0;
}

before(async () => {
  net = await createHosts(3);
  if ('refused' in net) return;
  [h1, h2, h3] = net.hosts;
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-meshdns-'));
  // Host 2 as a real machine has it: a default route (via host 1) and a resolver in /etc/resolv.conf
  // (`ip netns exec` shows /etc/netns/NS/resolv.conf as /etc/resolv.conf to what runs there).
  await run('ip', ['-n', h2.ns, 'route', 'add', 'default', 'via', h1.address], { timeout: 10_000 });
  await mkdir(`/etc/netns/${h2.ns}`, { recursive: true });
  await writeFile(`/etc/netns/${h2.ns}/resolv.conf`, `nameserver ${h1.address}\n`);
  const cp = startIn(
    h1,
    process.execPath,
    [
      WEFT_BIN,
      'control-plane',
      ...['--data-dir', join(dir, 'data'), '--push-debounce', '20ms'],
      ...['--api', `${h1.address}:15080`, '--xds', `${h1.address}:15010`],
    ],
    /weft control-plane ready: api (\S+)/,
  );
  await Promise.all([cp, startIn(h1, process.execPath, ['-e', UPSTREAM_DNS], /upstream dns ready/)]);
  server = (await cp)[1];
  operatorToken = (await readFile(join(dir, 'data', 'operator.token'), 'utf8')).trim();
  await Promise.all([
    unit(h3, 'reviews', 9000, HTTP_APP, ['--service-port', '9080', '--version', 'v1']),
    unit(h3, 'reviews', 9010, HTTP_APP, ['--service-port', '9080', '--version', 'v2']),
    unit(h3, 'redis', 9100, RESP_APP, ['--service-port', '6379', '--protocol', 'tcp']),
    unit(h3, 'greeter', 9200, GRPC_APP, ['--service-port', '50051', '--protocol', 'grpc']),
    unit(h2, 'client', 8000, HTTP_APP, ['--capture', '--dns-port', String(CLIENT_DNS)]),
  ]);
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  if (net && !('refused' in net)) {
    await net.remove();
    await rm(`/etc/netns/${h2.ns}`, { recursive: true, force: true });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('mesh DNS: the app resolves service names to their VIP; other names come from the host resolver', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  let vip = '';
  await eventuallyTrue('reviews resolves to a VIP', async () => {
    const r = await asApp('getent', ['ahostsv4', 'reviews']);
    vip = /^(240\.240\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? '';
    return vip !== '';
  });
  for (const name of ['reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local']) {
    const r = await asApp('getent', ['ahostsv4', name]);
    assert.match(
      r.stdout,
      new RegExp(`^${vip.replaceAll('.', '\\.')}\\s`),
      `${name}: ${r.stdout}${r.stderr}`,
    );
  }
  const outside = await asApp('getent', ['ahostsv4', 'outside.test']);
  assert.match(outside.stdout, /^10\.213\.0\.1\s/, "forwarded to resolv.conf's nameserver, unchanged");
  // A resolver named by an IPv6 address is captured too (ip6tables, the DNS server's [::1] twin).
  await writeFile(`/etc/netns/${h2.ns}/resolv.conf`, `nameserver ${h1.address6}\n`);
  try {
    const v6 = await asApp('getent', ['ahostsv4', 'reviews.default']);
    assert.match(v6.stdout, new RegExp(`^${vip.replaceAll('.', '\\.')}\\s`), v6.stdout + v6.stderr);
  } finally {
    await writeFile(`/etc/netns/${h2.ns}/resolv.conf`, `nameserver ${h1.address}\n`);
  }
  const unknown = await asApp('getent', ['ahostsv4', 'nowhere.test']);
  assert.notEqual(unknown.code, 0, 'NXDOMAIN from upstream is passed on');
  assert.ok((await clientMetric('istio_agent_dns_requests_total')) >= 4);
  assert.ok((await clientMetric('istio_agent_dns_upstream_requests_total')) >= 2);
});

test('curl and Python http.client, no proxy settings, reach reviews on host 3 by name over mTLS', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  let last = '';
  await eventuallyTrue('curl http://reviews:9080/ answers', async () => {
    const r = await appCurl('http://reviews:9080/curl');
    last = r.raw;
    return r.status === 200;
  }).catch((err) => assert.fail(`${err.message}; last: ${last}`));
  const r = await appCurl('http://reviews:9080/curl');
  assert.equal(r.body.name, 'reviews');
  assert.match(
    r.body.xfcc,
    /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/,
    'mTLS with the app identity',
  );
  const py = await asApp('python3', [
    '-c',
    "import http.client; c = http.client.HTTPConnection('reviews.default', 9080, timeout=10); c.request('GET', '/py'); r = c.getresponse(); print(r.status, r.read().decode())",
  ]);
  assert.match(py.stdout, /^200 .*"name":"reviews".*sa\/client/, py.stdout + py.stderr);
  assert.ok(
    (await clientMetric('envoy_cluster_ssl_handshake', 'outbound|9080||reviews.default.svc.cluster.local')) >=
      1,
  );
});

test('a VirtualService routes the captured call (header to v2, else v1); an AuthorizationPolicy DENY on host 3 applies', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  await weft(
    ['apply', '-f', '-'],
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { x-canary: { exact: "yes" } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`,
  );
  await eventuallyTrue('x-canary goes to v2', async () => {
    const r = await appCurl('http://reviews:9080/', ['x-canary: yes']);
    return r.status === 200 && r.body.version === 'v2';
  });
  for (let i = 0; i < 4; i++) assert.equal((await appCurl('http://reviews:9080/')).body.version, 'v1');
  await weft(['delete', 'virtualservice', 'reviews', '-n', 'default']);
  await weft(['delete', 'destinationrule', 'reviews', '-n', 'default']);

  await weft(
    ['apply', '-f', '-'],
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-client, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: DENY
  rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/client] } }] }]
`,
  );
  await eventuallyTrue(
    'reviews denies the client by name',
    async () => (await appCurl('http://reviews:9080/')).status === 403,
  );
  // Calling an endpoint's address directly is captured too, and under the same policy.
  assert.equal((await appCurl(`http://${h3.address}:9001/direct`)).status, 403);
  await weft(['delete', 'authorizationpolicy', 'no-client', '-n', 'default']);
  await eventuallyTrue('allowed again', async () => (await appCurl('http://reviews:9080/')).status === 200);
});

test('a grpc-js client with a plain dns: target calls greeter on host 3', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const client = `const grpc = require('@grpc/grpc-js'); const c = new grpc.Client('dns:greeter:50051', grpc.credentials.createInsecure());
c.makeUnaryRequest('/weft.Echo/Say', (b) => b, (b) => b, Buffer.from('mesh'), { deadline: Date.now() + 10000 },
(e, r) => { if (e) { console.error(e.message); process.exit(1); } console.log(String(r)); process.exit(0); });`;
  let last = '';
  await eventuallyTrue('the gRPC call answers', async () => {
    const r = await asApp(process.execPath, ['-e', client]);
    last = r.stdout + r.stderr;
    return r.code === 0;
  }).catch((err) => assert.fail(`${err.message}; last: ${last}`));
  assert.match(last, /hello mesh from greeter/);
  assert.ok(
    (await clientMetric(
      'envoy_cluster_ssl_handshake',
      'outbound|50051||greeter.default.svc.cluster.local',
    )) >= 1,
  );
});

test('a raw TCP Redis-protocol client reaches redis on host 3 by name, through mTLS', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const client = `import socket
s = socket.create_connection(('redis', 6379), timeout=10)
s.sendall(b'*1\\r\\n$4\\r\\nPING\\r\\n'); print(s.recv(100).decode().strip())
s.sendall(b'*2\\r\\n$4\\r\\nECHO\\r\\n$4\\r\\nmesh\\r\\n'); print(s.recv(100).decode().replace('\\r\\n', ' ').strip())`;
  let last = '';
  await eventuallyTrue('PING answers', async () => {
    const r = await asApp('python3', ['-c', client]);
    last = r.stdout + r.stderr;
    return r.code === 0;
  }).catch((err) => assert.fail(`${err.message}; last: ${last}`));
  assert.match(last, /^\+PONG\n\$4 mesh/);
  assert.ok(
    (await clientMetric('envoy_cluster_ssl_handshake', 'outbound|6379||redis.default.svc.cluster.local')) >=
      1,
    'the TCP connection went over mTLS',
  );
});
