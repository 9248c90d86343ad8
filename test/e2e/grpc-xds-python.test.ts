// End to end: a real `weft control-plane` steers a proxyless gRPC C-core client (Debian's python3-grpcio) between two real gRPC servers.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runCli } from '../helpers/cli.ts';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import { grpcioVersion, PYTHON } from '../helpers/grpc-xds-mtls.ts';
import {
  apply,
  bootstrap,
  GreeterClient,
  mesh,
  proxies,
  routesChanged,
  SPLIT,
  TARGET,
  TESTER_ABORT,
  TESTER_TO_V2,
} from '../helpers/grpc-xds-scenario.ts';
import { startWeft } from '../helpers/process.ts';

// The gRPC client has no TLS: it reads from the control plane's loopback, read-only plaintext xDS port.
const READY =
  /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds 127\.0\.0\.1:\d+ xds-plaintext (127\.0\.0\.1:\d+)/;
const CLIENT_NODE = 'python-greeter-client~e2e';
const CLIENT = fileURLToPath(new URL('../helpers/grpc-xds-client.py', import.meta.url));
test("proxyless gRPC with C-core (python3-grpcio): subsets, 80/20, a header route, an injected fault and the VirtualService's delete", async (t) => {
  const version = grpcioVersion();
  const dir = await mkdtemp(join(tmpdir(), 'weft-grpc-xds-python-'));
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

  const bootstrapFile = join(dir, 'bootstrap.json');
  await writeFile(bootstrapFile, JSON.stringify(bootstrap(xds, CLIENT_NODE)));
  const client = new GreeterClient({
    command: PYTHON,
    args: [CLIENT, TARGET],
    env: {
      ...process.env,
      GRPC_XDS_BOOTSTRAP: bootstrapFile,
      GRPC_VERBOSITY: 'ERROR',
      // With no call in flight, C-core reads the ADS stream only when its backup poller runs (every
      // 5 s by default; updates then took 15-20 s to be ACKed here): poll often so the test is quick.
      GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS: '100',
    },
  });
  t.after(() => client.close());

  // No VirtualService: round robin over both subsets' endpoints.
  const warmUp = await client.run(20);
  assert.equal(
    (warmUp.v1 ?? 0) + (warmUp.v2 ?? 0),
    20,
    `grpcio ${version} reaches the greeters: ${JSON.stringify(warmUp)}`,
  );
  const plain = await client.run(200);
  assert.ok(plain.v1 >= 70 && plain.v2 >= 70, `both endpoints serve: ${JSON.stringify(plain)}`);
  let routes = await routesChanged(api, CLIENT_NODE, undefined);

  // 80/20 split.
  await apply(api, dir, 'split', SPLIT);
  routes = await routesChanged(api, CLIENT_NODE, routes);
  const split = await client.run(1000);
  assert.equal((split.v1 ?? 0) + (split.v2 ?? 0), 1000, JSON.stringify(split));
  assert.ok(split.v1 >= 750 && split.v1 <= 850, `80/20 within ±5%: ${JSON.stringify(split)}`);

  // A header route: C-core before 1.57 NACKs string_match header matchers; it ACKs what weft sends it.
  await apply(api, dir, 'tester', TESTER_TO_V2);
  routes = await routesChanged(api, CLIENT_NODE, routes);
  const node = (await proxies(api)).proxies.find((p) => p.nodeId === CLIENT_NODE);
  assert.equal(node?.types[TYPE_URL.route]?.nack, undefined, JSON.stringify(node));
  assert.deepEqual(await client.run(200, { 'x-user': 'tester' }), { v2: 200 });
  const others = await client.run(200, { 'x-user': 'someone' });
  assert.ok(others.v1 > 100, `non-testers still mostly reach v1: ${JSON.stringify(others)}`);

  // Fault injection reaches the proxyless client: the tester's calls abort with UNAVAILABLE (14).
  await apply(api, dir, 'abort', TESTER_ABORT);
  routes = await routesChanged(api, CLIENT_NODE, routes);
  assert.deepEqual(await client.run(50, { 'x-user': 'tester' }), { 'error:14': 50 });
  assert.deepEqual(await client.run(50, { 'x-user': 'someone' }), { v1: 50 });

  // Deleting the VirtualService goes back to balancing across both.
  const deleted = await runCli(['delete', 'virtualservice', 'greeter', '--server', api]);
  assert.equal(deleted.code, 0, deleted.stderr);
  await routesChanged(api, CLIENT_NODE, routes);
  const balanced = await client.run(1000);
  assert.ok(balanced.v1 >= 350 && balanced.v2 >= 350, `balanced: ${JSON.stringify(balanced)}`);
});
