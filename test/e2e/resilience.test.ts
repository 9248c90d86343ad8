// End to end: resilience features of a real `weft proxy` against misbehaving upstreams (real processes, loopback).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;

/** A misbehaving upstream: counts the requests it sees and answers as `behave` says. */
interface App {
  port: number;
  hits: number;
  close(): Promise<void>;
}

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, app: App) => void;

async function startApp(behave: Behaviour): Promise<App> {
  const sockets = new Set<net.Socket>();
  const app: App = { port: 0, hits: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    app.hits++;
    req.resume();
    behave(req, res, app);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  app.port = (server.address() as net.AddressInfo).port;
  app.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return app;
}

const ok = (res: http.ServerResponse, body = 'ok') => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(body);
};

let dir: string;
let controlPlane: WeftProcess;
let server: string;
let client: WeftProcess;
let out: number;
let admin: number;
const apps: Record<string, App> = {};
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 32 });

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** One GET through the client sidecar to `host`. */
function get(host: string, path = '/', agent: http.Agent | false = keepAlive): Promise<Reply> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: out, path, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - start }),
      );
    });
    req.on('error', reject);
    // A request that never ends fails the test with a reason instead of hanging it.
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer from ${host}${path} in 15 s`)));
    req.end();
  });
}

/** `total` GETs, `concurrency` at a time. */
async function load(host: string, total: number, concurrency: number, path = '/'): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        replies.push(await get(host, path));
      }
    }),
  );
  return replies;
}

function adminGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: admin, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** A counter's value on the client sidecar's /stats/prometheus for one cluster. */
async function counter(name: string, cluster: string): Promise<number> {
  const text = await adminGet('/stats/prometheus');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`"${cluster}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A ServiceEntry `NAME.test:80` whose endpoints are the given apps (no sidecar in front of them). */
function serviceEntry(name: string, ports: number[]): string {
  const entries = ports.map(
    (p, i) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-${i}}
spec:
  address: 127.0.0.1
  labels: {app: ${name}}
  ports: {http: ${p}}
`,
  );
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name}}}
${entries.join('')}`;
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const r = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

const cluster = (name: string) => `outbound|80||${name}.test`;

async function hostsOf(name: string): Promise<number> {
  const body = JSON.parse(await adminGet('/clusters?format=json')) as {
    clusterStatuses: { name: string; hostStatuses: unknown[] }[];
  };
  return body.clusterStatuses.find((c) => c.name === cluster(name))?.hostStatuses.length ?? 0;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-resilience-'));
  controlPlane = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--push-debounce',
      '20ms',
    ],
    { ready: CP_READY },
  );
  server = controlPlane.ready[1];
  const clientApp = await startApp((_q, res) => ok(res));
  apps.client = clientApp;
  client = await startWeft(
    [
      'proxy',
      '--server',
      server,
      '--service',
      'client',
      '--app-port',
      String(clientApp.port),
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
    ],
    { ready: PROXY_READY, timeoutMs: 60_000 },
  );
  out = Number(client.ready[1]);
  admin = Number(client.ready[2]);
});

after(async () => {
  keepAlive.destroy();
  await client?.stop('SIGKILL');
  await controlPlane?.stop('SIGKILL');
  for (const a of Object.values(apps)) await a.close();
  await rm(dir, { recursive: true, force: true });
});

const retryRoute = (name: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}.test]
  http:
  - route: [{destination: {host: ${name}.test}}]
    retries: {attempts: 3, retryOn: 5xx}
`;

test('3 retries on 5xx hide an upstream that fails 30% of requests', async () => {
  // flaky: two endpoints, each failing a random 30% of requests (independent: 0.3^4 = 0.81% stay failed).
  // partial: three endpoints, one always failing (a third of requests); retries go to another host.
  const fail = (res: http.ServerResponse) => {
    res.writeHead(503);
    res.end('flaky');
  };
  const random: Behaviour = (_q, res) => (Math.random() < 0.3 ? fail(res) : ok(res));
  apps.flakyA = await startApp(random);
  apps.flakyB = await startApp(random);
  apps.partA = await startApp((_q, res) => ok(res));
  apps.partB = await startApp((_q, res) => ok(res));
  apps.partC = await startApp((_q, res) => fail(res));
  await apply(
    'flaky',
    `${serviceEntry('flaky', [apps.flakyA.port, apps.flakyB.port])}${retryRoute('flaky')}${serviceEntry('partial', [apps.partA.port, apps.partB.port, apps.partC.port])}${retryRoute('partial')}`,
  );
  await eventuallyTrue(
    'flaky endpoints',
    async () => (await hostsOf('flaky')) === 2 && (await hostsOf('partial')) === 3,
  );
  await eventuallyTrue('the retry routes', async () =>
    (await load('partial.test', 12, 3)).every((r) => r.status === 200),
  );
  const attempts = () => apps.flakyA.hits + apps.flakyB.hits;
  const before = attempts();
  const flaky = await load('flaky.test', 1000, 10);
  const upstream = attempts() - before;
  const flakyErrors = flaky.filter((r) => r.status !== 200).length;
  const failedBefore = apps.partC.hits;
  const partial = await load('partial.test', 1000, 10);
  const partialErrors = partial.filter((r) => r.status !== 200).length;
  const partialFailures = apps.partC.hits - failedBefore;
  console.log(
    `# retries: random 30% failures: ${flakyErrors}/1000 client errors over ${upstream} upstream attempts (0.3^4 = 0.81% expected); one of three endpoints failing: ${partialErrors}/1000 client errors (${partialFailures} failed attempts retried elsewhere)`,
  );
  assert.ok(upstream > 1300, `retries happened: ${upstream} attempts`);
  assert.ok(flakyErrors < 20, `${flakyErrors} errors of 1000 with independent 30% failures`);
  assert.ok(partialFailures > 200, `the failing endpoint took its share (${partialFailures})`);
  assert.ok(partialErrors <= 2, `${partialErrors} errors of 1000 with one dead endpoint of three`);
});

test('a 500 ms route timeout answers 504 (UT) in about 500 ms against a hanging upstream', async () => {
  apps.hang = await startApp((req, res) => {
    if (req.url === '/hang') setTimeout(() => ok(res, 'late'), 5_000).unref();
    else ok(res);
  });
  await apply(
    'hang',
    `${serviceEntry('hang', [apps.hang.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hang}
spec:
  hosts: [hang.test]
  http:
  - route: [{destination: {host: hang.test}}]
    timeout: 500ms
`,
  );
  await eventuallyTrue('hang endpoint', async () => (await get('hang.test')).status === 200);
  const replies = await Promise.all([get('hang.test', '/hang', false), get('hang.test', '/hang', false)]);
  for (const r of replies) {
    console.log(
      `# timeout: ${r.status} after ${Math.round(r.ms)} ms, flags ${r.headers['x-weft-response-flags']}`,
    );
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-weft-response-flags'], 'UT');
    assert.ok(r.ms >= 450 && r.ms <= 1500, `${r.ms} ms`);
  }
});

test('an always-failing endpoint is ejected within a few requests; success recovers', async () => {
  apps.good = await startApp((_q, res) => ok(res, 'good'));
  apps.bad = await startApp((_q, res) => {
    res.writeHead(500);
    res.end('bad');
  });
  await apply(
    'eject',
    `${serviceEntry('eject', [apps.good.port, apps.bad.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: eject}
spec:
  hosts: [eject.test]
  http:
  - route: [{destination: {host: eject.test}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: eject}
spec:
  host: eject.test
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`,
  );
  await eventuallyTrue('eject endpoints', async () => (await hostsOf('eject')) === 2);
  await eventuallyTrue('the outlier policy', async () => {
    const text = await adminGet('/config_dump');
    return text.includes('"consecutive5xx"') || text.includes('consecutive_5xx');
  });
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) statuses.push((await get('eject.test', '/', false)).status);
  const firstError = statuses.indexOf(500);
  const lastError = statuses.lastIndexOf(500);
  const errors = statuses.filter((s) => s !== 200).length;
  console.log(`# outlier: ${errors} errors of 40, last error at request ${lastError + 1}`);
  assert.ok(firstError >= 0, 'the bad endpoint was tried');
  assert.ok(lastError < 10, `ejected within a few requests (last error at ${lastError + 1})`);
  assert.ok(
    statuses.slice(10).every((s) => s === 200),
    statuses.join(','),
  );
});

test('minHealthPercent: with every endpoint ejected, panic mode keeps traffic flowing to them', async () => {
  const failing: Behaviour = (_q, res) => {
    res.writeHead(500);
    res.end('down');
  };
  apps.deadA = await startApp(failing);
  apps.deadB = await startApp(failing);
  await apply(
    'dead',
    `${serviceEntry('dead', [apps.deadA.port, apps.deadB.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: dead}
spec:
  hosts: [dead.test]
  http:
  - route: [{destination: {host: dead.test}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dead}
spec:
  host: dead.test
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 100
      minHealthPercent: 50
`,
  );
  await eventuallyTrue('dead endpoints', async () => (await hostsOf('dead')) === 2);
  const before = apps.deadA.hits + apps.deadB.hits;
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await get('dead.test', '/', false)).status);
  const reached = apps.deadA.hits + apps.deadB.hits - before;
  console.log(`# panic: ${reached} of 20 requests reached the (all ejected) endpoints`);
  assert.equal(reached, 20, statuses.join(','));
  assert.ok(
    statuses.every((s) => s === 500),
    statuses.join(','),
  );
});

test('circuit breaker limits give immediate 503 UO under concurrency, counted in /stats/prometheus', async () => {
  apps.narrow = await startApp((_q, res) => {
    setTimeout(() => ok(res), 1_000);
  });
  await apply(
    'narrow',
    `${serviceEntry('narrow', [apps.narrow.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: narrow}
spec:
  hosts: [narrow.test]
  http:
  - route: [{destination: {host: narrow.test}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: narrow}
spec:
  host: narrow.test
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}
`,
  );
  await eventuallyTrue('narrow endpoint', async () => (await get('narrow.test', '/', false)).status === 200);
  await eventuallyTrue('the circuit breaker', async () => {
    const rs = await Promise.all(Array.from({ length: 4 }, () => get('narrow.test', '/', false)));
    return rs.some((r) => r.status === 503);
  });
  const before = await counter('envoy_cluster_upstream_rq_pending_overflow', cluster('narrow'));
  const replies = await Promise.all(Array.from({ length: 12 }, () => get('narrow.test', '/', false)));
  const rejected = replies.filter((r) => r.status === 503);
  const after = await counter('envoy_cluster_upstream_rq_pending_overflow', cluster('narrow'));
  const slowest = Math.max(...rejected.map((r) => r.ms));
  console.log(
    `# circuit breaker: ${rejected.length}/12 rejected (slowest rejection ${Math.round(slowest)} ms), overflow counter +${after - before}`,
  );
  assert.ok(rejected.length >= 6, `${rejected.length} rejected`);
  assert.ok(
    replies.some((r) => r.status === 200),
    'some get through',
  );
  for (const r of rejected) assert.equal(r.headers['x-weft-response-flags'], 'UO');
  assert.ok(slowest < 800, `rejections are immediate (${slowest} ms), not queued behind the 1 s answers`);
  assert.ok(after - before >= rejected.length, `counter ${before} → ${after}`);
});

test('fault percentages land within a few percent over 1,000 requests', async () => {
  apps.faulty = await startApp((_q, res) => ok(res));
  await apply(
    'faulty',
    `${serviceEntry('faulty', [apps.faulty.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: faulty}
spec:
  hosts: [faulty.test]
  http:
  - match: [{uri: {prefix: /abort}}]
    route: [{destination: {host: faulty.test}}]
    retries: {attempts: 0}
    fault: {abort: {httpStatus: 418, percentage: {value: 25}}}
  - match: [{uri: {prefix: /delay}}]
    route: [{destination: {host: faulty.test}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 20}}}
  - route: [{destination: {host: faulty.test}}]
`,
  );
  await eventuallyTrue('the abort fault', async () =>
    (await load('faulty.test', 20, 4, '/abort')).some((r) => r.status === 418),
  );
  const aborts = await load('faulty.test', 1000, 20, '/abort');
  const aborted = aborts.filter((r) => r.status === 418).length;
  assert.ok(
    aborts.filter((r) => r.status === 418).every((r) => r.headers['x-weft-response-flags'] === 'FI'),
    'aborts carry FI',
  );
  const delays = await load('faulty.test', 1000, 20, '/delay');
  // 300 ms: far above what a stall of the shared machine adds to an undelayed request.
  const delayed = delays.filter((r) => r.ms >= 250).length;
  console.log(`# fault: aborted ${aborted}/1000 (25% configured), delayed ${delayed}/1000 (20% configured)`);
  assert.ok(Math.abs(aborted - 250) <= 45, `${aborted} aborted`);
  assert.ok(Math.abs(delayed - 200) <= 50, `${delayed} delayed`);
  assert.ok(
    delays.every((r) => r.status === 200),
    'delayed requests still succeed',
  );
});

test('mirrored traffic reaches the mirror; a slow or failing mirror never slows or fails the primary', async () => {
  apps.primary = await startApp((_q, res) => ok(res, 'primary'));
  apps.shadow = await startApp((req, res) => {
    // Half the copies hang for 3 s, the other half have their connection reset.
    if (apps.shadow.hits % 2 === 0) setTimeout(() => ok(res, 'shadow'), 3_000).unref();
    else req.socket.destroy();
  });
  await apply(
    'mirror',
    `${serviceEntry('primary', [apps.primary.port])}${serviceEntry('shadow', [apps.shadow.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: primary}
spec:
  hosts: [primary.test]
  http:
  - route: [{destination: {host: primary.test}}]
    mirror: {host: shadow.test}
    mirrorPercentage: {value: 100}
`,
  );
  await eventuallyTrue('the mirror', async () => {
    await get('primary.test');
    return apps.shadow.hits > 0;
  });
  const before = apps.shadow.hits;
  const replies = await load('primary.test', 100, 5);
  const slowest = Math.max(...replies.map((r) => r.ms));
  await eventuallyTrue('copies at the mirror', async () => apps.shadow.hits - before >= 95, 10_000);
  console.log(
    `# mirror: ${apps.shadow.hits - before} copies for 100 requests; primary all ${replies.every((r) => r.status === 200) ? '200' : 'NOT 200'}, slowest ${Math.round(slowest)} ms`,
  );
  assert.ok(
    replies.every((r) => r.status === 200 && r.body === 'primary'),
    'primary answers untouched',
  );
  assert.ok(slowest < 1_000, `the 3 s mirror did not slow the primary (${slowest} ms)`);
});

test('a retry budget caps retries during a full outage (upstream attempts counted)', async () => {
  const down: Behaviour = (_q, res) => {
    res.writeHead(503);
    res.end('down');
  };
  apps.outage = await startApp(down);
  apps.unbudgeted = await startApp(down);
  await apply(
    'outage',
    `${serviceEntry('outage', [apps.outage.port])}${retryRoute('outage')}${serviceEntry('unbudgeted', [apps.unbudgeted.port])}${retryRoute('unbudgeted')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: outage}
spec:
  host: outage.test
  trafficPolicy:
    retryBudget: {percent: {value: 20}, minRetryConcurrency: 1}
`,
  );
  await eventuallyTrue('the retry budget', async () => {
    const text = await adminGet('/config_dump');
    return text.includes('retryBudget') || text.includes('retry_budget');
  });
  await eventuallyTrue(
    'outage routes',
    async () => (await get('unbudgeted.test')).status === 503 && (await get('outage.test')).status === 503,
  );
  const requests = 200;
  const hitsBefore = [apps.outage.hits, apps.unbudgeted.hits];
  const overflowBefore = await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('outage'));
  const [budgeted, unbudgeted] = await Promise.all([
    load('outage.test', requests, 20),
    load('unbudgeted.test', requests, 20),
  ]);
  const withBudget = apps.outage.hits - hitsBefore[0];
  const without = apps.unbudgeted.hits - hitsBefore[1];
  const overflow =
    (await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('outage'))) - overflowBefore;
  console.log(
    `# retry budget: ${requests} requests in a full outage → ${withBudget} upstream attempts with retryBudget 20% (${overflow} retries refused), ${without} without (attempts 3)`,
  );
  assert.ok(budgeted.every((r) => r.status === 503) && unbudgeted.every((r) => r.status === 503));
  assert.ok(without >= requests * 3.5, `without a budget every request is tried 4 times (${without})`);
  assert.ok(withBudget <= requests * 2, `the budget caps attempts (${withBudget} for ${requests} requests)`);
  assert.ok(overflow > 0, 'refused retries are counted');
});

/** GETs `host` + `path` for `ms` milliseconds, `concurrency` at a time. */
async function hammer(host: string, path: string, ms: number, concurrency: number): Promise<Reply[]> {
  const replies: Reply[] = [];
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) replies.push(await get(host, path));
    }),
  );
  return replies;
}

test('local rate limits hold to their rate over 3 s, service-wide and per route (inbound sidecar)', async () => {
  apps.limited = await startApp((_q, res) => ok(res));
  const sidecar = await startWeft(
    [
      'proxy',
      '--server',
      server,
      '--service',
      'limited',
      '--app-port',
      String(apps.limited.port),
      '--service-port',
      '80',
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
    ],
    { ready: PROXY_READY, timeoutMs: 60_000 },
  );
  try {
    await apply(
      'limited',
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: limited}
spec:
  hosts: [limited]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: limited}}]
  - route: [{destination: {host: limited}}]
---
apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: limited-all}
spec:
  targetRef: {kind: Service, name: limited}
  requestsPerUnit: 20
  unit: second
  burst: 10
---
apiVersion: weft.dev/v1alpha1
kind: RateLimit
metadata: {name: limited-api}
spec:
  targetRef: {kind: Service, name: limited}
  route: api
  requestsPerUnit: 5
  burst: 5
`,
    );
    await eventuallyTrue('the rate limit', async () => {
      const rs = await load('limited', 40, 8, '/warm');
      return rs.some((r) => r.status === 429);
    });
    await new Promise((r) => setTimeout(r, 1_500)); // let the bucket refill
    const seconds = 3;
    const [all, api] = await Promise.all([
      hammer('limited', '/other', seconds * 1000, 4),
      hammer('limited', '/api/x', seconds * 1000, 4),
    ]);
    const allowed = all.filter((r) => r.status === 200).length;
    const apiAllowed = api.filter((r) => r.status === 200).length;
    const limited = all.find((r) => r.status === 429);
    console.log(
      `# rate limit over ${seconds} s: service-wide 20/s burst 10 → ${allowed} of ${all.length} allowed (${(allowed / seconds).toFixed(1)}/s); route api 5/s burst 5 → ${apiAllowed} of ${api.length} allowed (${(apiAllowed / seconds).toFixed(1)}/s)`,
    );
    assert.ok(all.every((r) => r.status === 200 || r.status === 429));
    // Ceiling: burst + rate × time (+ one refill of slack); floor: most of the rate was used.
    assert.ok(allowed <= 10 + 20 * seconds + 5 && allowed >= 20 * seconds * 0.8, `${allowed} allowed`);
    assert.ok(apiAllowed <= 5 + 5 * seconds + 2 && apiAllowed >= 5 * seconds * 0.8, `${apiAllowed} allowed`);
    assert.ok(limited, 'some requests were refused');
    assert.equal(limited.headers['x-weft-response-flags'], 'RL');
    assert.equal(limited.headers['x-ratelimit-limit'], '10');
    assert.equal(limited.headers['x-ratelimit-remaining'], '0');
  } finally {
    await sidecar.stop('SIGKILL');
  }
});

test('a Linkerd ServiceProfile retry budget (ratio over a window) caps retries of retryable routes', async () => {
  apps.spdown = await startApp((_q, res) => {
    res.writeHead(503);
    res.end('down');
  });
  await apply(
    'spdown',
    `${serviceEntry('spdown', [apps.spdown.port])}---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: spdown.test}
spec:
  routes:
  - name: everything
    condition: {pathRegex: '/.*'}
    isRetryable: true
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 2, ttl: 10s}
`,
  );
  await eventuallyTrue('the ServiceProfile budget', async () =>
    (await adminGet('/config_dump')).includes('weft.retry_budget'),
  );
  await eventuallyTrue('spdown route', async () => (await get('spdown.test')).status === 503);
  const before = apps.spdown.hits;
  const requests = 200;
  const replies = await load('spdown.test', requests, 20);
  const attempts = apps.spdown.hits - before;
  console.log(
    `# ServiceProfile budget: ${requests} requests in a full outage → ${attempts} upstream attempts (retryRatio 0.2 + 2/s over 10 s allows ≈ ${0.2 * requests + 20} retries; 3 retries each would be ${requests * 4})`,
  );
  assert.ok(replies.every((r) => r.status === 503));
  assert.ok(attempts > requests, `retryable requests were retried (${attempts})`);
  assert.ok(attempts <= requests + 0.2 * (requests + 10) + 20 + 10, `the ratio caps retries (${attempts})`);
});

test('fetch through HTTP_PROXY (CONNECT even for http://) still gets the route table: header routes, faults, retries', async () => {
  let n = 0;
  apps.tunnel = await startApp((_q, res) => {
    n++;
    if (n % 2 === 1) {
      res.writeHead(503);
      res.end('flaky');
    } else ok(res, 'app');
  });
  await apply(
    'tunnel',
    `${serviceEntry('tunnel', [apps.tunnel.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tunnel}
spec:
  hosts: [tunnel.test]
  http:
  - match: [{headers: {x-pick: {exact: direct}}}]
    directResponse: {status: 299, body: {string: from the route table}}
  - match: [{uri: {prefix: /fault}}]
    route: [{destination: {host: tunnel.test}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
  - route: [{destination: {host: tunnel.test}}]
    retries: {attempts: 3, retryOn: 5xx}
`,
  );
  await eventuallyTrue(
    'the tunnel routes',
    async () => (await get('tunnel.test', '/', false)).status === 200,
  );
  const script = `
const results = [];
for (const [path, headers] of [['/', {'x-pick': 'direct'}], ['/fault', {}], ['/', {}], ['/', {}]]) {
  const r = await fetch('http://tunnel.test' + path, { headers });
  results.push([r.status, await r.text()]);
}
console.log(JSON.stringify(results));`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: `http://127.0.0.1:${out}`, NO_PROXY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  const results = JSON.parse(stdout) as [number, string][];
  console.log(`# fetch via HTTP_PROXY (CONNECT): ${JSON.stringify(results)}`);
  assert.deepEqual(results[0], [299, 'from the route table']);
  assert.equal(results[1][0], 418);
  assert.deepEqual(results[2], [200, 'app'], 'a 503 from the app is retried');
  assert.deepEqual(results[3], [200, 'app']);
});

/** One request with a body through the client sidecar. */
function send(host: string, method: string, body: Buffer): Promise<Reply> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: out, method, path: '/upload', headers: { host }, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            ms: performance.now() - start,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('request bodies up to 64 KiB are replayed on retry; larger ones are not retried', async () => {
  // Fails every first attempt of a request (odd hits); answers the body's size and checksum.
  apps.replay = await startApp((req, res, app) => {
    const parts: Buffer[] = [];
    req.removeAllListeners('data');
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (app.hits % 2 === 1) {
        res.writeHead(503);
        res.end('first attempt fails');
        return;
      }
      const body = Buffer.concat(parts);
      ok(res, `${body.length}:${body.reduce((a, b) => (a + b) % 65_521, 0)}`);
    });
  });
  await apply('replay', `${serviceEntry('replay', [apps.replay.port])}${retryRoute('replay')}`);
  await eventuallyTrue('replay route', async () => (await get('replay.test', '/', false)).status === 200);
  const small = Buffer.alloc(40_000, 7);
  const large = Buffer.alloc(100_000, 7);
  apps.replay.hits = 0;
  const smallReply = await send('replay.test', 'POST', small);
  apps.replay.hits = 0;
  const largeReply = await send('replay.test', 'POST', large);
  console.log(
    `# body replay: 40 KB POST → ${smallReply.status} ${smallReply.body}; 100 KB POST → ${largeReply.status} (${apps.replay.hits} attempt)`,
  );
  assert.equal(smallReply.status, 200);
  assert.equal(smallReply.body, `40000:${small.reduce((a, b) => (a + b) % 65_521, 0)}`);
  assert.equal(largeReply.status, 503, 'a body over 64 KiB is not retried');
  assert.equal(apps.replay.hits, 1);
});
