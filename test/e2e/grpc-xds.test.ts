// End to end: a real `weft control-plane` steers a proxyless @grpc/grpc-js-xds client between two real gRPC servers.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ProxiesResponse } from '../../src/control/xds/types.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runCli } from '../helpers/cli.ts';
import { AdsTestClient } from '../helpers/grpc-ads-client.ts';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import { startWeft } from '../helpers/process.ts';

// The gRPC client has no TLS: it reads from the control plane's loopback, read-only plaintext xDS port.
const READY =
  /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds 127\.0\.0\.1:\d+ xds-plaintext (127\.0\.0\.1:\d+)/;
const HOST = 'greeter.default.svc.cluster.local';
const TARGET = `xds:///${HOST}:50051`;
const CHILD = fileURLToPath(new URL('../helpers/grpc-xds-client-child.ts', import.meta.url));
const CLIENT_NODE = 'greeter-client~e2e';

function mesh(v1Port: number, v2Port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: greeter
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 50051
    name: grpc
    protocol: GRPC
  workloadSelector:
    labels:
      app: greeter
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: greeter-v1
spec:
  address: 127.0.0.1
  labels: {app: greeter, version: v1}
  ports: {grpc: ${v1Port}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: greeter-v2
spec:
  address: 127.0.0.1
  labels: {app: greeter, version: v2}
  ports: {grpc: ${v2Port}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: greeter
spec:
  host: ${HOST}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;
}

const SPLIT_ROUTE = `    route:
    - destination: {host: ${HOST}, subset: v1}
      weight: 80
    - destination: {host: ${HOST}, subset: v2}
      weight: 20`;

const SPLIT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: greeter
spec:
  hosts: [${HOST}]
  http:
  - name: split
${SPLIT_ROUTE}
`;

const TESTER_TO_V2 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: greeter
spec:
  hosts: [${HOST}]
  http:
  - name: tester
    match:
    - headers:
        x-user:
          exact: tester
    route:
    - destination: {host: ${HOST}, subset: v2}
  - name: split
${SPLIT_ROUTE}
`;

/** The proxyless client in its own process (own bootstrap), answering batches of calls. */
class GreeterClient {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: (() => void) | undefined;
  #stderr = '';

  constructor(xdsAddress: string) {
    const bootstrap = {
      xds_servers: [
        { server_uri: xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
      ],
      node: { id: CLIENT_NODE, locality: {} },
    };
    this.#child = spawn(process.execPath, [CHILD, TARGET], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.#child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        this.#lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
      this.#waiting?.();
    });
    this.#child.stderr.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    this.#child.on('exit', () => this.#waiting?.());
  }

  /** Makes `calls` calls and counts the answers by server (`v1`, `v2`) or `error:<code>`. */
  async run(calls: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
    this.#child.stdin.write(`${JSON.stringify({ calls, headers })}\n`);
    const deadline = Date.now() + 60_000;
    while (this.#lines.length === 0) {
      if (this.#child.exitCode !== null) throw new Error(`the gRPC client exited:\n${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`the gRPC client did not answer:\n${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.#waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return JSON.parse(this.#lines.shift()!) as Record<string, number>;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.on('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}

async function proxies(api: string): Promise<ProxiesResponse> {
  const response = await fetch(`${api}/api/v1/proxies`);
  assert.equal(response.status, 200);
  return (await response.json()) as ProxiesResponse;
}

/** The RDS version the gRPC client has ACKed (undefined before it has one). */
async function ackedRoutes(api: string): Promise<string | undefined> {
  const node = (await proxies(api)).proxies.find((p) => p.nodeId === CLIENT_NODE);
  return node?.types[TYPE_URL.route]?.acked;
}

/** Waits until the client has ACKed a route configuration other than `previous`. */
async function routesChanged(api: string, previous: string | undefined): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const acked = await ackedRoutes(api);
    if (acked && acked !== previous) return acked;
    if (Date.now() > deadline) throw new Error(`the gRPC client did not ACK new routes (still ${acked})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function apply(api: string, dir: string, name: string, yaml: string): Promise<void> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const result = await runCli(['apply', '-f', file, '--server', api]);
  assert.equal(result.code, 0, `weft apply ${name}: ${result.stderr}`);
}

test('proxyless gRPC: weights, header match and fallback follow the VirtualService; a NACK shows in proxy-status', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-grpc-xds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const controlPlane = await startWeft(
    [
      'control-plane',
      '--data-dir',
      join(dir, 'data'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
      '--xds-plaintext',
      '127.0.0.1:0',
    ],
    { ready: READY },
  );
  t.after(() => controlPlane.stop());
  const [, api, xds] = controlPlane.ready;
  const v1 = await startGreeter('v1');
  t.after(() => v1.close());
  const v2 = await startGreeter('v2');
  t.after(() => v2.close());
  await apply(api, dir, 'mesh', mesh(v1.port, v2.port));

  const client = new GreeterClient(xds);
  t.after(() => client.close());

  // No VirtualService: round robin over both subsets' endpoints (after a warm-up that connects both).
  const warmUp = await client.run(20);
  assert.equal(
    (warmUp.v1 ?? 0) + (warmUp.v2 ?? 0),
    20,
    `the client reaches the greeters: ${JSON.stringify(warmUp)}`,
  );
  const plain = await client.run(200);
  assert.equal((plain.v1 ?? 0) + (plain.v2 ?? 0), 200, JSON.stringify(plain));
  assert.ok(plain.v1 >= 70 && plain.v2 >= 70, `both endpoints serve: ${JSON.stringify(plain)}`);
  let routes = await routesChanged(api, undefined);

  // 80/20 split.
  await apply(api, dir, 'split', SPLIT);
  routes = await routesChanged(api, routes);
  const split = await client.run(1000);
  assert.equal((split.v1 ?? 0) + (split.v2 ?? 0), 1000, JSON.stringify(split));
  assert.ok(split.v1 >= 750 && split.v1 <= 850, `80/20 within ±5%: ${JSON.stringify(split)}`);

  // A header match sends the tester to v2 only; everyone else still splits.
  await apply(api, dir, 'tester', TESTER_TO_V2);
  routes = await routesChanged(api, routes);
  assert.deepEqual(await client.run(200, { 'x-user': 'tester' }), { v2: 200 });
  const others = await client.run(200, { 'x-user': 'someone' });
  assert.ok(others.v1 > 100, `non-testers still mostly reach v1: ${JSON.stringify(others)}`);

  // Deleting the VirtualService goes back to balancing across both.
  const deleted = await runCli(['delete', 'virtualservice', 'greeter', '--server', api]);
  assert.equal(deleted.code, 0, deleted.stderr);
  routes = await routesChanged(api, routes);
  const balanced = await client.run(1000);
  assert.ok(balanced.v1 >= 350 && balanced.v2 >= 350, `balanced: ${JSON.stringify(balanced)}`);

  // A client that rejects its clusters shows up as NACK with its reason.
  const nacker = new AdsTestClient(xds, 'sotw');
  t.after(() => nacker.close());
  const cluster = `outbound|50051|v1|${HOST}`;
  nacker.send({
    node: { id: 'nacker~e2e', cluster: 'tests' },
    type_url: TYPE_URL.cluster,
    resource_names: [cluster],
  });
  const cds = await nacker.next(TYPE_URL.cluster);
  nacker.send({
    type_url: TYPE_URL.cluster,
    resource_names: [cluster],
    response_nonce: cds.nonce,
    error_detail: { code: 3, message: 'cluster rejected by the e2e test' },
  });
  const deadline = Date.now() + 10_000;
  let table = '';
  for (;;) {
    const status = await runCli(['proxy-status', '--server', api]);
    assert.equal(status.code, 0, status.stderr);
    table = status.stdout;
    if (table.includes('cluster rejected by the e2e test') || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const row = table.split('\n').find((line) => line.startsWith('nacker~e2e'));
  assert.match(row ?? '', /^nacker~e2e\s+tests\s+NACK\s+NOT SENT\s+NOT SENT\s+NOT SENT\s+\S+/, table);
  assert.match(table, /nacker~e2e CDS NACK \(version \S+, .+\): cluster rejected by the e2e test/);
  const clientRow = table.split('\n').find((line) => line.startsWith(CLIENT_NODE));
  assert.match(clientRow ?? '', /SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/, table);
  const json = await runCli(['proxy-status', '--server', api, '-o', 'json']);
  const parsed = JSON.parse(json.stdout) as ProxiesResponse;
  const nack = parsed.proxies.find((p) => p.nodeId === 'nacker~e2e')?.types[TYPE_URL.cluster]?.nack;
  assert.equal(nack?.message, 'cluster rejected by the e2e test');
});
