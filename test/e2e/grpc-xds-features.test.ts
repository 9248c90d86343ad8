// End to end: ring hash (gRFC A42) and outlier detection (A50) from DestinationRules, with both proxyless clients (grpc-js-xds, python3-grpcio) on real greeters.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runCli } from '../helpers/cli.ts';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import {
  apply,
  GreeterClient,
  grpcJsClient,
  HOST,
  mesh,
  proxies,
  pythonClient,
  startMeshControlPlane,
} from '../helpers/grpc-xds-scenario.ts';

const RING_HASH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: greeter
spec:
  host: ${HOST}
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: x-user
`;

const OUTLIER = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: greeter
spec:
  host: ${HOST}
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 5m
      maxEjectionPercent: 100
`;

/** The greeter mesh without its DestinationRule (each test applies its own). */
function greeters(v1Port: number, v2Port: number): string {
  return mesh(v1Port, v2Port).replace(
    /---\napiVersion: networking\.istio\.io\/v1\nkind: DestinationRule[\s\S]*$/,
    '',
  );
}

/** Asserts the client `nodeId` has not NACKed its clusters or routes. */
async function noNack(api: string, nodeId: string): Promise<void> {
  const node = (await proxies(api)).proxies.find((p) => p.nodeId === nodeId);
  assert.ok(node, `${nodeId} is connected`);
  for (const type of [TYPE_URL.cluster, TYPE_URL.route])
    assert.equal(node.types[type]?.nack, undefined, JSON.stringify(node));
}

/** A control plane, greeters v1 and v2 (v2 failing with `v2Fails`), `rule` applied, and a client of `kind`. */
async function setup(t: TestContext, kind: 'js' | 'python', rule: string, v2Fails?: status) {
  const { dir, api, xds } = await startMeshControlPlane(t, 'weft-grpc-features-');
  const v1 = await startGreeter('v1');
  t.after(() => v1.close());
  const v2 = await startGreeter('v2', v2Fails);
  t.after(() => v2.close());
  await apply(api, dir, 'mesh', greeters(v1.port, v2.port));
  // The rule is applied by `weft apply`, whose warnings say what proxyless clients make of it.
  await writeFile(join(dir, 'rule.yaml'), rule);
  const applied = await runCli(['apply', '-f', join(dir, 'rule.yaml'), '--server', api]);
  assert.equal(applied.code, 0, applied.stderr);
  const nodeId = `${kind}-client~e2e`;
  const client = new GreeterClient(
    kind === 'js' ? grpcJsClient(xds, nodeId) : await pythonClient(dir, xds, nodeId),
  );
  t.after(() => client.close());
  return { api, nodeId, client, warnings: applied.stderr };
}

test(`ring hash (grpc-js-xds): each x-user value sticks to one greeter, and users spread over both`, async (t) => {
  const { api, nodeId, client, warnings } = await setup(t, 'js', RING_HASH);
  // Header hashing is what gRPC implements: the only warning is about C-core before 1.52.
  assert.deepEqual(
    warnings.split('\n').filter((l) => l.includes('ProxylessUnsupported')).length,
    1,
    warnings,
  );
  assert.match(
    warnings,
    /consistentHash: proxyless gRPC clients .* get ROUND_ROBIN when they are gRPC C-core before 1\.52 .*grpc\/grpc#31766/,
  );
  const first = await client.run(1, { 'x-user': 'first' });
  assert.equal(Object.keys(first).length, 1, `the first call is answered: ${JSON.stringify(first)}`);
  await noNack(api, nodeId);
  const seen = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const counts = await client.run(20, { 'x-user': `user-${i}` });
    const servers = Object.keys(counts);
    assert.equal(servers.length, 1, `user-${i} reaches one greeter: ${JSON.stringify(counts)}`);
    seen.add(servers[0]);
  }
  assert.deepEqual([...seen].sort(), ['v1', 'v2'], 'the users spread over both greeters');
});

// python3-grpcio 1.51.1 (C-core 29) dies with SIGSEGV on its first ring-hash pick (grpc/grpc#31766,
// fixed in 1.52): weft sends it ROUND_ROBIN for the same rule, so its calls are all answered.
test('ring hash (python3-grpcio 1.51): the client is sent round robin and every call is answered', async (t) => {
  const { api, nodeId, client } = await setup(t, 'python', RING_HASH);
  const counts = await client.run(40, { 'x-user': 'someone' });
  assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), 40, JSON.stringify(counts));
  assert.ok(counts.v1 > 0 && counts.v2 > 0, `round robin over both greeters: ${JSON.stringify(counts)}`);
  await noNack(api, nodeId);
});

for (const kind of ['js', 'python'] as const) {
  test(`outlier detection (${kind}): a greeter that fails every call is ejected`, async (t) => {
    const { api, nodeId, client, warnings } = await setup(t, kind, OUTLIER, status.INTERNAL);
    assert.match(
      warnings,
      /^Warning: .*DestinationRule default\/greeter: spec\.trafficPolicy\.outlierDetection\.consecutive5xxErrors: proxyless gRPC clients .* failed more than 99% of at least N calls .*\[ProxylessUnsupported\]$/m,
    );
    const first = await client.run(20);
    assert.ok(
      first.v1 >= 1 && first['error:13'] >= 1,
      `both greeters are called at first: ${JSON.stringify(first)}`,
    );
    await noNack(api, nodeId);
    // INTERNAL is not retried (Istio's default retryOn), so every v2 call fails. Ejection happens at
    // the end of an interval (1 s) in which v2 failed at least 3 calls.
    const deadline = Date.now() + 30_000;
    let last = first;
    while (last['error:13'] !== undefined) {
      assert.ok(Date.now() < deadline, `v2 is still called after 30 s: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 500));
      last = await client.run(10);
    }
    assert.deepEqual(await client.run(200), { v1: 200 });
  });
}
