// End to end: VirtualService retries and timeouts reach both proxyless clients (grpc-js-xds, python3-grpcio) through xDS routes.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { type GreeterBehaviour, startGreeter } from '../helpers/grpc-greeter.ts';
import {
  apply,
  GreeterClient,
  grpcJsClient,
  HOST,
  mesh,
  pythonClient,
  routesChanged,
  startMeshControlPlane,
} from '../helpers/grpc-xds-scenario.ts';

function route(extra: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [${HOST}]
  http:
  - route: [{destination: {host: ${HOST}}}]
${extra}`;
}

/** A control plane, two greeters behaving as `behaviour`, and a client of `kind` that has its first routes. */
async function setup(t: TestContext, kind: 'js' | 'python', behaviour: GreeterBehaviour) {
  const { dir, api, xds } = await startMeshControlPlane(t, 'weft-grpc-retry-');
  const greeters = [
    await startGreeter('g1', undefined, behaviour),
    await startGreeter('g2', undefined, behaviour),
  ];
  for (const g of greeters) t.after(() => g.close());
  await apply(api, dir, 'mesh', mesh(greeters[0].port, greeters[1].port));
  const nodeId = `${kind}-client~e2e`;
  const client = new GreeterClient(
    kind === 'js' ? grpcJsClient(xds, nodeId) : await pythonClient(dir, xds, nodeId),
  );
  t.after(() => client.close());
  /** Applies `yaml` and waits until the client has ACKed the routes it makes. */
  const change = async (name: string, yaml: string, previous: string | undefined) => {
    await apply(api, dir, name, yaml);
    return routesChanged(api, nodeId, previous);
  };
  return { api, nodeId, client, change };
}

const answered = (c: Record<string, number>) => (c.g1 ?? 0) + (c.g2 ?? 0);

for (const kind of ['js', 'python'] as const) {
  test(`retries (${kind}): UNAVAILABLE first attempts are retried by default, not with attempts 0, again with attempts 3`, async (t) => {
    const { api, nodeId, client, change } = await setup(t, kind, { failFirstAttempt: status.UNAVAILABLE });
    // Istio's default route retries UNAVAILABLE twice: every call is answered by its second attempt.
    const byDefault = await client.run(20);
    assert.equal(answered(byDefault), 20, JSON.stringify(byDefault));
    let routes = await routesChanged(api, nodeId, undefined);
    routes = await change('off', route('    retries: {attempts: 0}\n'), routes);
    assert.deepEqual(await client.run(20), { 'error:14': 20 });
    await change('on', route('    retries: {attempts: 3, retryOn: unavailable}\n'), routes);
    const retried = await client.run(20);
    assert.equal(answered(retried), 20, JSON.stringify(retried));
  });

  test(`timeout (${kind}): a route timeout ends slow calls with DEADLINE_EXCEEDED`, async (t) => {
    const { api, nodeId, client, change } = await setup(t, kind, { delayMs: 1500 });
    const slow = await client.run(4);
    assert.equal(answered(slow), 4, `no timeout: the slow greeters answer: ${JSON.stringify(slow)}`);
    const routes = await routesChanged(api, nodeId, undefined);
    await change('timeout', route('    timeout: 200ms\n'), routes);
    assert.deepEqual(await client.run(4), { 'error:4': 4 });
  });
}
