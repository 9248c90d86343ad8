// The proxyless gRPC scenario of the e2e tests: a Greeter mesh (two subsets), its VirtualServices, and a client process driven in batches.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxiesResponse } from '../../src/control/xds/types.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runCli } from './cli.ts';
import { startWeft } from './process.ts';

export const HOST = 'greeter.default.svc.cluster.local';
export const TARGET = `xds:///${HOST}:50051`;
const CHILD = fileURLToPath(new URL('./grpc-xds-client-child.ts', import.meta.url));
const PYTHON_CLIENT = fileURLToPath(new URL('./grpc-xds-client.py', import.meta.url));

export function mesh(v1Port: number, v2Port: number): string {
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

export const SPLIT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: greeter
spec:
  hosts: [${HOST}]
  http:
  - name: split
${SPLIT_ROUTE}
`;

export const TESTER_TO_V2 = `apiVersion: networking.istio.io/v1
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

/** The gRPC xDS bootstrap of a client with node id `nodeId` talking to weft's ADS server at `xdsAddress`. */
export function bootstrap(xdsAddress: string, nodeId: string): object {
  return {
    xds_servers: [
      { server_uri: xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: { id: nodeId, locality: {} },
  };
}

/** How to start a client: its command and environment (the bootstrap is the caller's business). */
export interface ClientProcess {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** The grpc-js-xds client (test/helpers/grpc-xds-client-child.ts) with its bootstrap in GRPC_XDS_BOOTSTRAP_CONFIG. */
export function grpcJsClient(xdsAddress: string, nodeId: string): ClientProcess {
  return {
    command: process.execPath,
    args: [CHILD, TARGET],
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap(xdsAddress, nodeId)) },
  };
}

/** The C-core client (Debian python3-grpcio, test/helpers/grpc-xds-client.py) with its bootstrap written in `dir`. */
export async function pythonClient(dir: string, xds: string, nodeId: string): Promise<ClientProcess> {
  const file = join(dir, `${nodeId}.json`);
  await writeFile(file, JSON.stringify(bootstrap(xds, nodeId)));
  return {
    command: '/usr/bin/python3',
    args: [PYTHON_CLIENT, TARGET],
    env: {
      ...process.env,
      GRPC_XDS_BOOTSTRAP: file,
      GRPC_VERBOSITY: 'ERROR',
      GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS: '100',
    },
  };
}

/** A proxyless client in its own process (own bootstrap), answering batches of calls. */
export class GreeterClient {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: (() => void) | undefined;
  #stderr = '';

  constructor(client: ClientProcess) {
    this.#child = spawn(client.command, client.args, { env: client.env, stdio: ['pipe', 'pipe', 'pipe'] });
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

  /** Stops the client (once; later calls wait for nothing). */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}

export async function proxies(api: string): Promise<ProxiesResponse> {
  const response = await fetch(`${api}/api/v1/proxies`);
  assert.equal(response.status, 200);
  return (await response.json()) as ProxiesResponse;
}

/** The RDS version the gRPC client `nodeId` has ACKed (undefined before it has one). */
async function ackedRoutes(api: string, nodeId: string): Promise<string | undefined> {
  const node = (await proxies(api)).proxies.find((p) => p.nodeId === nodeId);
  return node?.types[TYPE_URL.route]?.acked;
}

/** Waits until the client `nodeId` has ACKed a route configuration other than `previous`. */
export async function routesChanged(
  api: string,
  nodeId: string,
  previous: string | undefined,
): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const acked = await ackedRoutes(api, nodeId);
    if (acked && acked !== previous) return acked;
    if (Date.now() > deadline) throw new Error(`the gRPC client did not ACK new routes (still ${acked})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function apply(api: string, dir: string, name: string, yaml: string): Promise<void> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const result = await runCli(['apply', '-f', file, '--server', api]);
  assert.equal(result.code, 0, `weft apply ${name}: ${result.stderr}`);
}

/** Testers' calls fail with UNAVAILABLE (gRFC A33 fault injection); everyone else reaches v1. */
export const TESTER_ABORT = `apiVersion: networking.istio.io/v1
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
    fault:
      abort:
        grpcStatus: UNAVAILABLE
        percentage: {value: 100}
    route:
    - destination: {host: ${HOST}, subset: v2}
  - name: others
    route:
    - destination: {host: ${HOST}, subset: v1}
`;

/** The ready line of a control plane with a plaintext xDS port (proxyless clients have no TLS). */
const READY =
  /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds 127\.0\.0\.1:\d+ xds-plaintext (127\.0\.0\.1:\d+)/;

/** A temporary directory and a control plane in it (with `extraArgs`), both removed after the test; `xds` is its plaintext xDS address. */
export async function startMeshControlPlane(
  t: { after(fn: () => unknown): void },
  prefix: string,
  extraArgs: readonly string[] = [],
): Promise<{ dir: string; api: string; xds: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const args = ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', ...extraArgs];
  const controlPlane = await startWeft([...args, '--xds', '127.0.0.1:0', '--xds-plaintext', '127.0.0.1:0'], {
    ready: READY,
  });
  t.after(() => controlPlane.stop());
  const [, api, xds] = controlPlane.ready;
  return { dir, api, xds };
}
