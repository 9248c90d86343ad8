// End to end: a proxyless @grpc/grpc-js-xds server (gRFC A36) gets its listener from weft, and an AuthorizationPolicy on its workload is enforced by the server itself (RBAC, gRFC A41).
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GRPC_SERVER_LISTENER_PREFIX } from '../../src/control/xds/generate/grpc-server.ts';
import { runCli } from '../helpers/cli.ts';
import { apply, GreeterClient, startMeshControlPlane } from '../helpers/grpc-xds-scenario.ts';
import { freePort } from '../helpers/prometheus.ts';

const SERVER = fileURLToPath(new URL('../helpers/grpc-xds-server-child.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('../helpers/grpc-xds-client-child.ts', import.meta.url));

const DENY_BLOCKED = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: greeter-deny
  namespace: default
spec:
  selector:
    matchLabels: {app: greeter}
  action: DENY
  rules:
  - to:
    - operation:
        paths: [/helloworld.Greeter/SayHello]
    when:
    - key: request.headers[x-user]
      values: [blocked]
`;

/** Starts the xDS-enabled server on 127.0.0.1:`port`; resolves once it serves (its listener was accepted). */
async function startXdsServer(xds: string, port: number): Promise<ChildProcessWithoutNullStreams> {
  const bootstrap = {
    xds_servers: [{ server_uri: xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: 'greeter-server~e2e',
      locality: {},
      metadata: { NAMESPACE: 'default', LABELS: { app: 'greeter' } },
    },
    server_listener_resource_name_template: `${GRPC_SERVER_LISTENER_PREFIX}%s`,
  };
  const child = spawn(process.execPath, [SERVER, `127.0.0.1:${port}`], {
    env: {
      ...process.env,
      GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap),
      // grpc-js-xds 1.14 accepts RBAC filters only with this set (the feature is still experimental there).
      GRPC_XDS_EXPERIMENTAL_RBAC: 'true',
      GRPC_VERBOSITY: 'ERROR',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the xDS server did not serve in 30 s:\n${output}`));
    }, 30_000);
    const seen = (d: Buffer) => {
      output += d.toString();
      if (/^serving \d+$/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the xDS server exited (${code}):\n${output}`));
    });
  });
  return child;
}

test('a proxyless gRPC server enforces the AuthorizationPolicy on its workload, and stops when it is deleted', async (t) => {
  const { dir, api, xds } = await startMeshControlPlane(t, 'weft-grpc-server-');
  await apply(api, dir, 'deny', DENY_BLOCKED);

  // grpc-js-xds binds the port it is given (not 0): a free one is picked first.
  const port = await freePort();
  const server = await startXdsServer(xds, port);
  t.after(() => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    return exited;
  });
  // A plain (non-xDS) client: the server alone enforces the policy.
  const client = new GreeterClient({
    command: process.execPath,
    args: [CLIENT, `127.0.0.1:${port}`],
    env: process.env,
  });
  t.after(() => client.close());

  assert.deepEqual(await client.run(20, { 'x-user': 'someone' }), { 'xds-server': 20 });
  // PERMISSION_DENIED (7) from the server's RBAC filter.
  assert.deepEqual(await client.run(20, { 'x-user': 'blocked' }), { 'error:7': 20 });

  const deleted = await runCli([
    'delete',
    'authorizationpolicy',
    'greeter-deny',
    '-n',
    'default',
    '--server',
    api,
  ]);
  assert.equal(deleted.code, 0, deleted.stderr);
  // The server takes the new listener for new connections and drains the old ones: poll.
  const deadline = Date.now() + 30_000;
  let last = await client.run(5, { 'x-user': 'blocked' });
  while (last['xds-server'] !== 5) {
    assert.ok(Date.now() < deadline, `still denied 30 s after the delete: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 500));
    last = await client.run(5, { 'x-user': 'blocked' });
  }
});
