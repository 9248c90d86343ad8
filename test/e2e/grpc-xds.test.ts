// End to end: a real `weft control-plane` steers a proxyless @grpc/grpc-js-xds client between two real gRPC servers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ProxiesResponse } from '../../src/control/xds/types.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runCli } from '../helpers/cli.ts';
import { AdsTestClient } from '../helpers/grpc-ads-client.ts';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import {
  apply,
  GreeterClient,
  grpcJsClient,
  HOST,
  mesh,
  routesChanged,
  SPLIT,
  TESTER_ABORT,
  TESTER_TO_V2,
} from '../helpers/grpc-xds-scenario.ts';
import { startWeft } from '../helpers/process.ts';

// The gRPC client has no TLS: it reads from the control plane's loopback, read-only plaintext xDS port.
const READY =
  /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds 127\.0\.0\.1:\d+ xds-plaintext (127\.0\.0\.1:\d+)/;
const CLIENT_NODE = 'greeter-client~e2e';

test('proxyless gRPC: weights, header match, injected faults and fallback follow the VirtualService; a NACK shows in proxy-status', async (t) => {
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

  const client = new GreeterClient(grpcJsClient(xds, CLIENT_NODE));
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
  let routes = await routesChanged(api, CLIENT_NODE, undefined);

  // 80/20 split.
  await apply(api, dir, 'split', SPLIT);
  routes = await routesChanged(api, CLIENT_NODE, routes);
  const split = await client.run(1000);
  assert.equal((split.v1 ?? 0) + (split.v2 ?? 0), 1000, JSON.stringify(split));
  assert.ok(split.v1 >= 750 && split.v1 <= 850, `80/20 within ±5%: ${JSON.stringify(split)}`);

  // A header match sends the tester to v2 only; everyone else still splits.
  await apply(api, dir, 'tester', TESTER_TO_V2);
  routes = await routesChanged(api, CLIENT_NODE, routes);
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
  routes = await routesChanged(api, CLIENT_NODE, routes);
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
