// End to end: one mesh over three "hosts" (network namespaces on a bridge): control plane and gateway on 1, weft run units on 2 and 3, mTLS, routing and policy across hosts.
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WEFT_BIN } from '../helpers/cli.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { createHosts, type Host, type Hosts } from '../helpers/netns.ts';

/** How long one host may take to print a ready line on a busy machine. */
const READY_TIMEOUT_MS = 60_000;

/** An app that answers with its service name, the path and the caller's identity header. */
const APP = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json');
s.end(JSON.stringify({ name: process.env.WEFT_SERVICE, path: q.url, xfcc: q.headers['x-forwarded-client-cert'] ?? '' })); })
.listen(Number(process.env.PORT), process.env.HOST);`;

let net: Hosts | { refused: string };
let h1: Host;
let h2: Host;
let h3: Host;
let dir: string;
let server: string;
let operatorToken: string;
const procs: ChildProcessWithoutNullStreams[] = [];

/** Starts `weft ...args` inside `host`; resolves with its output once a line (stdout or stderr) matches `ready`. */
function weftIn(
  host: Host,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<RegExpMatchArray> {
  const hosts = net as Hosts;
  const child = hosts.spawn(host, process.execPath, [WEFT_BIN, ...args], { WEFT_LOG_LEVEL: 'warn', ...env });
  procs.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `weft ${args.join(' ')} in ${host.ns} not ready within ${READY_TIMEOUT_MS} ms:\n${output}`,
          ),
        ),
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
      reject(new Error(`weft ${args.join(' ')} in ${host.ns} exited (${code}):\n${output}`));
    });
  });
}

/** `weft run` of an app serving `service` on `host`, all its ports fixed (each host is a fresh namespace). */
function unit(host: Host, service: string, ports: number, extra: string[] = []): Promise<RegExpMatchArray> {
  return weftIn(
    host,
    [
      'run',
      ...['--service', service, '--server', server, '--drain-timeout', '1s', ...extra],
      ...['--app-port', String(ports), '--inbound-port', String(ports + 1)],
      ...['--outbound-port', String(ports + 2), '--admin-port', String(ports + 3)],
      '--',
      process.execPath,
      '-e',
      APP,
    ],
    /weft run: sidecar ready/,
    { WEFT_TOKEN: operatorToken },
  );
}

/** curl inside `host` (the app side: through the sidecar's outbound port when `proxyPort` is given). */
async function curl(
  host: Host,
  url: string,
  options: { proxyPort?: number; headers?: string[]; insecure?: boolean } = {},
) {
  const args = ['-gsS', '-m', '10', '-o', '-', '-w', '\n%{http_code}'];
  if (options.insecure) args.push('-k');
  if (options.proxyPort) args.push('-x', `http://127.0.0.1:${options.proxyPort}`);
  for (const h of options.headers ?? []) args.push('-H', h);
  const r = await (net as Hosts).exec(host, 'curl', [...args, url], { timeoutMs: 15_000 });
  const lines = r.stdout.split('\n');
  return { code: r.code, status: Number(lines.pop()), body: lines.join('\n'), stderr: r.stderr };
}

async function apply(yaml: string): Promise<void> {
  const r = await (net as Hosts).exec(
    h1,
    process.execPath,
    [WEFT_BIN, 'apply', '-f', '-', '--server', server],
    {
      input: yaml,
      env: { WEFT_TOKEN: operatorToken },
    },
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** Applies AuthorizationPolicy `no-SA`: reviews denies service account SA. */
function denyOnReviews(sa: string): Promise<void> {
  return apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-${sa}, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: DENY
  rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/${sa}] } }] }]
`);
}

async function remove(kind: string, name: string): Promise<void> {
  const r = await (net as Hosts).exec(
    h1,
    process.execPath,
    [WEFT_BIN, 'delete', kind, name, '-n', 'default', '--server', server],
    {
      env: { WEFT_TOKEN: operatorToken },
    },
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** One sample of host 2's sidecar (admin 127.0.0.1:8003) `/stats/prometheus` whose line has every part. */
async function productpageMetric(name: string, ...parts: string[]): Promise<number> {
  const r = await curl(h2, 'http://127.0.0.1:8003/stats/prometheus');
  for (const line of r.body.split('\n'))
    if (line.startsWith(`${name}{`) && parts.every((p) => line.includes(p)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  return 0;
}

before(async () => {
  net = await createHosts(3);
  if ('refused' in net) return;
  [h1, h2, h3] = net.hosts;
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-hosts-'));
  const cp = await weftIn(
    h1,
    [
      'control-plane',
      ...['--data-dir', join(dir, 'data'), '--push-debounce', '20ms', '--telemetry-interval', '1s'],
      ...['--api', `${h1.address}:15080`, '--xds', `${h1.address}:15010`],
    ],
    /weft control-plane ready: api (\S+)/,
  );
  server = cp[1];
  operatorToken = (await readFile(join(dir, 'data', 'operator.token'), 'utf8')).trim();
  // productpage on host 2 (ports 8000-8003); reviews and ratings on host 3.
  await Promise.all([
    unit(h2, 'productpage', 8000),
    unit(h3, 'reviews', 9000),
    unit(h3, 'ratings', 9100),
    unit(h2, 'shop', 8100, ['--capture']),
  ]);
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  if (net && !('refused' in net)) await net.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('host 2 calls reviews on host 3 through both sidecars, over mTLS to the address host 3 registered', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  let last = '';
  await eventuallyTrue('productpage reaches reviews across hosts', async () => {
    const r = await curl(h2, 'http://reviews/', { proxyPort: 8002 });
    last = `${r.status} ${r.body} ${r.stderr}`;
    return r.status === 200;
  }).catch((err) => assert.fail(`${err.message}; last answer: ${last}`));
  const r = await curl(h2, 'http://reviews/x', { proxyPort: 8002 });
  const reply = JSON.parse(r.body);
  assert.equal(reply.name, 'reviews');
  // Host 3's sidecar saw the caller's verified identity: the hop was mutual TLS.
  assert.match(reply.xfcc, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage/);
  assert.ok(
    (await productpageMetric(
      'envoy_cluster_ssl_handshake',
      'outbound|80||reviews.default.svc.cluster.local',
    )) >= 1,
  );
  // The endpoint is host 3's address (what weft run learnt), and its inbound port serves the SPIFFE cert there.
  const shown = await (net as Hosts).exec(
    h2,
    'openssl',
    ['s_client', '-connect', `${h3.address}:9001`, '-showcerts'],
    {
      timeoutMs: 15_000,
    },
  );
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(shown.stdout)?.[0];
  assert.ok(leaf, shown.stdout + shown.stderr);
  const sans = await (net as Hosts).exec(h2, 'openssl', ['x509', '-noout', '-ext', 'subjectAltName'], {
    input: leaf,
  });
  assert.match(sans.stdout, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\b/);
  // The app itself stays on host 3's loopback: not reachable from host 2.
  const direct = await curl(h2, `http://${h3.address}:9000/`);
  assert.notEqual(direct.status, 200, `the app answered from another host: ${direct.body}`);
});

/** GET of the control plane's API from host 1, parsed. */
async function api<T>(path: string): Promise<T> {
  const r = await curl(h1, `${server}${path}`, { headers: [`authorization: Bearer ${operatorToken}`] });
  assert.equal(r.status, 200, `GET ${path}: ${r.body} ${r.stderr}`);
  return JSON.parse(r.body) as T;
}

test("the control plane's traffic view has the proxies of other hosts, through their stats ports (mTLS, the control plane only)", async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  type Row = { workload: string; admin: string | null; uptimeSeconds: number | null };
  let rows: Row[] = [];
  // Their admin ports are on their hosts' loopback: only the stats port lets host 1 read them.
  await eventuallyTrue('the control plane reads every remote proxy', async () => {
    rows = (await api<{ proxies: Row[] }>('/api/v1/telemetry/proxies')).proxies;
    return ['productpage', 'reviews'].every((w) =>
      rows.some((r) => r.workload === w && r.uptimeSeconds !== null),
    );
  }).catch((err) => assert.fail(`${err.message}: ${JSON.stringify(rows)}`));
  const productpage = rows.find((r) => r.workload === 'productpage')!;
  assert.match(productpage.admin ?? '', new RegExp(`^https://${h2.address.replaceAll('.', '\\.')}:\\d+$`));
  // Requests from host 2 to host 3 show in the view, counted by sidecars on those hosts. The
  // collector counts from its first scrape of a proxy (which a busy machine can delay past the
  // first requests), so requests go on until five have been counted.
  await eventuallyTrue('reviews has traffic in weft stat', async () => {
    assert.equal((await curl(h2, 'http://reviews/', { proxyPort: 8002 })).status, 200);
    const { rows } = await api<{ rows: { name: string; requests: number }[] }>(
      '/api/v1/telemetry/stat?kind=deploy',
    );
    return rows.some((r) => r.name === 'reviews' && r.requests >= 5);
  });
  // weft tap of a proxy on host 3, relayed by the control plane on host 1 from its stats port.
  const tap = (net as Hosts).spawn(h1, 'curl', [
    ...['-sSN', '-D', '-', '-m', '30', '-H', `authorization: Bearer ${operatorToken}`],
    `${server}/api/v1/tap?namespace=default&path=/tapped&max=1`,
  ]);
  procs.push(tap);
  let tapped = '';
  tap.stdout.setEncoding('utf8').on('data', (d: string) => (tapped += d));
  const ended = new Promise((resolve) => tap.once('exit', resolve));
  await eventuallyTrue('the tap is open', async () => /^HTTP\/1\.1 200/.test(tapped));
  assert.equal((await curl(h2, 'http://reviews/tapped', { proxyPort: 8002 })).status, 200);
  await ended;
  assert.match(tapped, /"path":"\/tapped"/, `no tap record: ${tapped}`);
  // Anyone else is refused: no client certificate (TLS refuses), or plaintext.
  const stats = productpage.admin!;
  const noCert = await curl(h3, `${stats}/stats/prometheus`, { headers: [], insecure: true });
  assert.notEqual(noCert.status, 200, `a client without a certificate was served: ${noCert.body}`);
  const plain = await curl(h3, `${stats.replace('https:', 'http:')}/stats/prometheus`);
  assert.notEqual(plain.status, 200, `a plaintext client was served: ${plain.body}`);
});

test('a VirtualService routes across hosts; an AuthorizationPolicy on host 3 denies host 2', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  await apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { x-to: { exact: ratings } } }]
    route: [{ destination: { host: ratings } }]
  - route: [{ destination: { host: reviews } }]
`);
  await eventuallyTrue('the header routes reviews to ratings', async () => {
    const r = await curl(h2, 'http://reviews/', { proxyPort: 8002, headers: ['x-to: ratings'] });
    return r.status === 200 && JSON.parse(r.body).name === 'ratings';
  });
  assert.equal(JSON.parse((await curl(h2, 'http://reviews/', { proxyPort: 8002 })).body).name, 'reviews');
  await remove('virtualservice', 'reviews');

  await denyOnReviews('productpage');
  await eventuallyTrue('reviews denies productpage', async () => {
    return (await curl(h2, 'http://reviews/', { proxyPort: 8002 })).status === 403;
  });
  // ratings, on the same host, has no policy: still allowed.
  assert.equal((await curl(h2, 'http://ratings/', { proxyPort: 8002 })).status, 200);
  await remove('authorizationpolicy', 'no-productpage');
  await eventuallyTrue('reviews allows productpage again', async () => {
    return (await curl(h2, 'http://reviews/', { proxyPort: 8002 })).status === 200;
  });
});

test('STRICT: a workload on host 3 is unreachable in plaintext from host 2, reachable through the mesh', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const plaintext = () => curl(h2, `http://${h3.address}:9101/`);
  assert.equal((await plaintext()).status, 200, 'PERMISSIVE (default) accepts plaintext');
  await apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ratings, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  mtls: { mode: STRICT }
`);
  await eventuallyTrue('plaintext to ratings is refused', async () => (await plaintext()).status !== 200);
  assert.equal((await curl(h2, 'http://ratings/', { proxyPort: 8002 })).status, 200);
  await remove('peerauthentication', 'ratings');
});

test('a gateway on host 1 serves reviews on host 3 and productpage on host 2, over mTLS to each', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  await apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: public, namespace: default }
spec:
  gatewayClassName: weft
  listeners: [{ name: http, port: 8080, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: default }
spec:
  parentRefs: [{ name: public }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /p } }]
    backendRefs: [{ name: productpage, port: 80 }]
  - backendRefs: [{ name: reviews, port: 80 }]
`);
  // A gateway is no weft run unit: it takes a token minted with the operator token, as on any host.
  const token = await (net as Hosts).exec(
    h1,
    process.execPath,
    [
      WEFT_BIN,
      'token',
      'create',
      '--namespace',
      'default',
      '--service-account',
      'public',
      '--server',
      server,
    ],
    { env: { WEFT_TOKEN: operatorToken } },
  );
  assert.equal(token.code, 0, token.stderr);
  await weftIn(
    h1,
    [
      'gateway',
      '--name',
      'public',
      '--port',
      '8080',
      '--server',
      server,
      '--drain-timeout',
      '1s',
      '--token',
      token.stdout.trim(),
    ],
    /weft gateway ready/,
    { WEFT_TOKEN: operatorToken },
  );
  let last = '';
  // From host 2, as an outside client: the gateway's address on host 1, no proxy.
  await eventuallyTrue('the gateway on host 1 routes to reviews on host 3', async () => {
    const r = await curl(h2, `http://${h1.address}:8080/g`);
    last = `${r.status} ${r.body} ${r.stderr}`;
    return r.status === 200 && JSON.parse(r.body).name === 'reviews';
  }).catch((err) => assert.fail(`${err.message}; last answer: ${last}`));
  // The workload's sidecar saw the gateway's verified identity: the hop from host 1 was mutual TLS.
  assert.match(JSON.parse((await curl(h2, `http://${h1.address}:8080/g`)).body).xfcc, /sa\/public/);
  // From host 3, the other rule: productpage on host 2, through the same gateway.
  const other = await curl(h3, `http://${h1.address}:8080/p`);
  assert.equal(other.status, 200, other.body + other.stderr);
  assert.equal(JSON.parse(other.body).name, 'productpage');
  assert.match(JSON.parse(other.body).xfcc, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/public/);
});

/** Runs `command` on host 2 as the captured app's group (1337): what the app itself would send. */
function asCapturedApp(command: string, args: string[]) {
  return (net as Hosts).exec(h2, 'setpriv', ['--regid', '1337', '--clear-groups', command, ...args], {
    timeoutMs: 15_000,
  });
}

/** The HTTP status curl run as the captured app gets for `url` (no proxy settings). */
async function capturedStatus(url: string): Promise<string> {
  const r = await asCapturedApp('curl', ['-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', url]);
  return r.stdout || r.stderr;
}

test('capture: an unmodified client of the captured app (no proxy) calling another host goes through both sidecars, under policy', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const target = `http://${h3.address}:9001/direct`;
  // curl with no -x and no proxy variables: iptables hands the connection to shop's sidecar.
  const viaCurl = await asCapturedApp('curl', ['-sS', '-m', '10', '--noproxy', '*', target]);
  assert.equal(viaCurl.code, 0, viaCurl.stderr);
  const reply = JSON.parse(viaCurl.stdout);
  assert.equal(reply.name, 'reviews');
  assert.match(
    reply.xfcc,
    /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/shop/,
    "mTLS with the captured app's identity",
  );
  const python = await asCapturedApp('python3', [
    '-c',
    `import http.client; c = http.client.HTTPConnection('${h3.address}', 9001, timeout=10); c.request('GET', '/py'); r = c.getresponse(); print(r.status, r.read().decode())`,
  ]);
  assert.match(python.stdout, /^200 .*sa\/shop/, python.stderr);
  // IPv6: ip6tables redirects the app's connection to the sidecar's [::1] outbound port, which
  // carries it on to where it was going (a server of host 3 on its IPv6 address).
  const redirected = async () => {
    const r = await (net as Hosts).exec(h2, 'ip6tables', [
      '-t',
      'nat',
      '-L',
      'WEFT_OUT_8100',
      '-v',
      '-x',
      '-n',
    ]);
    // The TCP catch-all to the outbound port (8102), not the DNS rules before it.
    const line = r.stdout.split('\n').find((l) => l.includes('redir ports 8102'));
    return Number(line?.trim().split(/\s+/)[0] ?? -1);
  };
  const v6server = (net as Hosts).spawn(h3, process.execPath, [
    '-e',
    `require('node:http').createServer((q, s) => s.end('v6 ' + q.url)).listen(9900, '${h3.address6}', () => console.log('up'))`,
  ]);
  procs.push(v6server);
  await new Promise((resolve) => v6server.stdout.once('data', resolve));
  const before = await redirected();
  const viaV6 = await asCapturedApp('curl', [
    '-gsS',
    '-m',
    '10',
    '--noproxy',
    '*',
    `http://[${h3.address6}]:9900/six`,
  ]);
  assert.equal(viaV6.stdout, 'v6 /six', viaV6.stderr);
  assert.ok((await redirected()) > before, 'the IPv6 connection went through the REDIRECT rule');
  // Not a mesh endpoint: passed through as is (ALLOW_ANY): the control plane's API answers.
  assert.equal(await capturedStatus(`${server}/api/v1/bootstrap`), '200');
  // The direct call is still subject to reviews' policy.
  await denyOnReviews('shop');
  await eventuallyTrue('reviews denies the captured app', async () => {
    return (await capturedStatus(target)) === '403';
  });
  await remove('authorizationpolicy', 'no-shop');
});

test('capture: callers of the app port from another host meet the sidecar; under STRICT, plaintext is refused', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  // shop's app listens on host 2's loopback only; PREROUTING sends its port to the inbound listener.
  const plaintext = () => curl(h3, `http://${h2.address}:8100/in`);
  // The same port on host 2's IPv6 address: ip6tables sends it to the sidecar's inbound port too.
  const plaintext6 = () => curl(h3, `http://[${h2.address6}]:8100/in6`);
  for (const before of [await plaintext(), await plaintext6()]) {
    assert.equal(before.status, 200, before.body + before.stderr);
    assert.equal(JSON.parse(before.body).name, 'shop');
  }
  await apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: shop, namespace: default }
spec:
  selector: { matchLabels: { app: shop } }
  mtls: { mode: STRICT }
`);
  await eventuallyTrue(
    'plaintext to the captured app port is refused',
    async () => (await plaintext()).status !== 200,
  );
  assert.notEqual((await plaintext6()).status, 200, 'plaintext over IPv6 is refused too');
  await remove('peerauthentication', 'shop');
});

test('capture: when the unit ends, its rules are gone', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const rules = async () =>
    (await (net as Hosts).exec(h2, 'iptables', ['-t', 'nat', '-S'])).stdout +
    (await (net as Hosts).exec(h2, 'ip6tables', ['-t', 'nat', '-S'])).stdout;
  assert.match(await rules(), /WEFT_OUT_8100[\s\S]*WEFT_OUT_8100 -d ::1\/128/);
  const shop = procs[4]; // control plane, productpage, reviews, ratings, shop (started in that order)
  const exited = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('weft run (shop) did not exit within 20 s of SIGTERM')),
      20_000,
    );
    shop.once('exit', () => resolve(clearTimeout(timer)));
  });
  shop.kill('SIGTERM');
  await exited;
  assert.doesNotMatch(await rules(), /WEFT_/);
});
