// End to end: gRPC retries and the retry budget through two real sidecars (grpc-js client and servers).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { echoService, grpcEchoClient, type Message } from '../helpers/echo-grpc.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;
const cluster = (name: string) => `outbound|50051||${name}.default.svc.cluster.local`;

let dir: string;
let controlPlane: WeftProcess;
let server: string;
const procs: WeftProcess[] = [];
const backends: grpc.Server[] = [];
let clientApp: Echo;
let out: number;
let admin: number;

/** A gRPC echo backend whose unary calls fail with UNAVAILABLE when `fails(id, retried)` says so. */
interface Backend {
  port: number;
  calls: number;
}

async function startBackend(fails: (id: number, retried: boolean) => boolean): Promise<Backend> {
  const backend: Backend = { port: 0, calls: 0 };
  const seen = new Set<number>();
  const s = new grpc.Server();
  s.addService(echoService, {
    Unary(call: grpc.ServerUnaryCall<Message, Message>, cb: grpc.sendUnaryData<Message>) {
      backend.calls++;
      const id = Number(call.request.id);
      const retried = seen.has(id);
      seen.add(id);
      if (fails(id, retried)) cb({ code: grpc.status.UNAVAILABLE, details: 'try another time' });
      else cb(null, { echo: call.request });
    },
    ServerStream() {},
    ClientStream() {},
    Bidi() {},
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  backends.push(s);
  return backend;
}

async function sidecar(args: string[]): Promise<WeftProcess> {
  const proc = await startWeft(
    [
      'proxy',
      '--server',
      server,
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      ...args,
    ],
    { ready: PROXY_READY, timeoutMs: 60_000 },
  );
  procs.push(proc);
  return proc;
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
async function counter(name: string, clusterName: string): Promise<number> {
  const text = await adminGet('/stats/prometheus');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`"${clusterName}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** `total` unary calls to `authority`, `concurrency` at a time; returns each call's status code. */
async function calls(authority: string, total: number, concurrency: number, firstId = 0): Promise<number[]> {
  const client = grpcEchoClient(`127.0.0.1:${out}`, authority);
  const codes: number[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const id = firstId + next++;
          codes.push(
            await new Promise<number>((resolve) =>
              (
                client.Unary as unknown as (
                  m: Message,
                  o: grpc.CallOptions,
                  cb: grpc.requestCallback<Message>,
                ) => grpc.ClientUnaryCall
              )({ id }, { deadline: Date.now() + 15_000 }, (err) => resolve(err ? err.code : grpc.status.OK)),
            ),
          );
        }
      }),
    );
  } finally {
    client.close();
  }
  return codes;
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const r = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

const retries = (name: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http:
  - route: [{destination: {host: ${name}}}]
    retries: {attempts: 3, retryOn: unavailable}
`;

let flaky: Backend;
let outage: Backend;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-e2e-grpc-resilience-'));
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
  // A third of the calls fail (their first attempt); a retry of the same call succeeds.
  flaky = await startBackend((id, retried) => id % 3 === 0 && !retried);
  outage = await startBackend(() => true);
  const grpcSidecar = (name: string, port: number) =>
    sidecar(['--service', name, '--app-port', String(port), '--service-port', '50051', '--protocol', 'grpc']);
  clientApp = await startHttpEcho('client');
  const [client] = await Promise.all([
    sidecar(['--service', 'client', '--app-port', String(clientApp.port)]),
    grpcSidecar('flaky', flaky.port),
    grpcSidecar('outage', outage.port),
  ]);
  out = Number(client.ready[1]);
  admin = Number(client.ready[2]);
  await apply(
    'policies',
    `${retries('flaky')}${retries('outage')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: outage}
spec:
  host: outage
  trafficPolicy:
    retryBudget: {percent: {value: 20}, minRetryConcurrency: 1}
`,
  );
  await eventuallyTrue('the retry routes and the budget at the client sidecar', async () => {
    const dump = await adminGet('/config_dump');
    return dump.includes('unavailable') && (dump.includes('retryBudget') || dump.includes('retry_budget'));
  });
});

after(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  await controlPlane?.stop('SIGKILL');
  for (const s of backends) s.forceShutdown();
  await clientApp?.close();
  await rm(dir, { recursive: true, force: true });
});

test('retries {attempts: 3, retryOn: unavailable} hide a backend failing a third of gRPC calls', async () => {
  await eventuallyTrue('flaky reachable', async () =>
    // Ids 1 and 2 never fail: the warm-up may repeat without touching the counts below.
    (await calls('flaky:50051', 2, 1, 1)).every((c) => c === 0),
  );
  const before = flaky.calls;
  const overflowBefore = await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('flaky'));
  const codes = await calls('flaky:50051', 300, 10, 1000);
  const failed = codes.filter((c) => c !== grpc.status.OK).length;
  const attempts = flaky.calls - before;
  const overflow =
    (await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('flaky'))) - overflowBefore;
  console.log(
    `# gRPC retries: ${failed}/300 calls failed over ${attempts} backend calls (a third fail once; ${overflow} retries refused)`,
  );
  assert.equal(attempts, 400, 'each failed call was retried once');
  assert.ok(failed <= 3, `${failed} of 300 calls failed`);
  assert.ok((await counter('envoy_cluster_upstream_rq_retry', cluster('flaky'))) >= 100);
});

test('the retry budget caps gRPC retries during a full outage, as for HTTP/1.1', async () => {
  await eventuallyTrue('outage reachable', async () =>
    (await calls('outage:50051', 2, 1)).every((c) => c === grpc.status.UNAVAILABLE),
  );
  const requests = 200;
  const before = outage.calls;
  const overflowBefore = await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('outage'));
  const codes = await calls('outage:50051', requests, 20);
  const attempts = outage.calls - before;
  const overflow =
    (await counter('envoy_cluster_upstream_rq_retry_overflow', cluster('outage'))) - overflowBefore;
  console.log(
    `# gRPC retry budget: ${requests} calls in a full outage → ${attempts} backend calls with retryBudget 20% (${overflow} retries refused); attempts 3 without a budget would be ${requests * 4}`,
  );
  assert.ok(codes.every((c) => c === grpc.status.UNAVAILABLE));
  assert.ok(attempts <= requests * 2, `the budget caps attempts (${attempts} for ${requests} calls)`);
  assert.ok(overflow > 0, 'refused retries are counted');
});
