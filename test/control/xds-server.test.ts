// ADS protocol tests against the real server with a raw grpc-js client: ACK/NACK, subscriptions, delta, debounce.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { MemoryRegistry } from '../../src/control/registry/memory.ts';
import { type AdsServer, createXdsServer } from '../../src/control/xds/server.ts';
import type { MeshSnapshot, Workload } from '../../src/model/types.ts';
import type { DeltaDiscoveryResponseMessage, DiscoveryResponseMessage } from '../../src/xds/discovery.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { AdsTestClient, type Decoded, decodeAll, sidecarNode } from '../helpers/grpc-ads-client.ts';
import { destinationRule, service, snapshot, workload } from '../helpers/grpc-xds-mesh.ts';

const REVIEWS = 'reviews.default.svc.cluster.local';
const V1 = `outbound|9080|v1|${REVIEWS}`;
const V2 = `outbound|9080|v2|${REVIEWS}`;

function mesh(version: number, workloads: Workload[]): MeshSnapshot {
  return snapshot({
    version,
    services: [service('reviews', [{ number: 9080 }]), service('ratings', [{ number: 80 }])],
    workloads,
    destinationRules: [
      destinationRule(REVIEWS, {
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ],
  });
}

const w1 = workload('r1', '10.0.0.1', { app: 'reviews', version: 'v1' });
const w2 = workload('r2', '10.0.0.2', { app: 'reviews', version: 'v2' });
const w3 = workload('r3', '10.0.0.3', { app: 'reviews', version: 'v2' });

interface Setup {
  server: AdsServer;
  registry: MemoryRegistry;
  address: string;
  clients: AdsTestClient[];
}

async function start(debounceMs = 20): Promise<Setup> {
  const registry = new MemoryRegistry({ graceMs: 100 });
  const server = createXdsServer({ registry, debounceMs, log: pino({ level: 'silent' }) });
  const port = await server.listen('127.0.0.1', 0);
  return { server, registry, address: `127.0.0.1:${port}`, clients: [] };
}

async function stop(s: Setup): Promise<void> {
  for (const c of s.clients) c.close();
  await s.server.close();
  s.registry.close();
}

function client<T extends DiscoveryResponseMessage | DeltaDiscoveryResponseMessage>(
  s: Setup,
  protocol: 'sotw' | 'delta',
): AdsTestClient<T> {
  const c = new AdsTestClient<T>(s.address, protocol);
  s.clients.push(c as AdsTestClient);
  return c;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('state of the world', () => {
  let s: Setup;
  before(async () => {
    s = await start();
    s.server.setSnapshot(mesh(1, [w1, w2]));
  });
  after(() => stop(s));

  test('wildcard CDS, explicit EDS, ACK; a change pushes only what changed; NACK keeps the last good version', async () => {
    const c = client<DiscoveryResponseMessage>(s, 'sotw');
    c.send({ node: sidecarNode('reviews-1'), type_url: TYPE_URL.cluster, resource_names: [] });
    const cds = await c.next(TYPE_URL.cluster);
    const clusters = decodeAll(cds);
    assert.ok(clusters.has(V1) && clusters.has(V2) && clusters.has('inbound|9080||'));
    assert.ok(cds.version_info && cds.nonce);
    c.send({ type_url: TYPE_URL.cluster, version_info: cds.version_info, response_nonce: cds.nonce });

    c.send({ type_url: TYPE_URL.endpoint, resource_names: [V1, V2] });
    const eds = await c.next(TYPE_URL.endpoint);
    assert.deepEqual([...decodeAll(eds).keys()].sort(), [V1, V2]);
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1, V2],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    await until(() => s.server.status()[0]?.types[TYPE_URL.endpoint]?.acked === eds.version_info, 'EDS ACK');

    // The sidecar registered itself as a workload.
    const joined = s.registry.list().find((w) => w.uid === 'proxy~reviews-1');
    assert.ok(joined);
    assert.equal(joined.address, '127.0.0.1');
    assert.deepEqual(joined.sidecar, { inboundPort: 15006 });
    assert.deepEqual(joined.service, { name: 'reviews', port: 9080, protocol: 'HTTP' });

    // A new v2 endpoint: only the v2 assignment is sent, nothing else.
    s.server.setSnapshot(mesh(2, [w1, w2, w3]));
    const push = await c.next();
    assert.equal(push.type_url, TYPE_URL.endpoint);
    assert.deepEqual([...decodeAll(push).keys()], [V2]);
    assert.notEqual(push.version_info, eds.version_info);
    assert.deepEqual(await c.pending(150), [], 'no other type was pushed');

    // NACK it: the server records the reason and keeps the last ACKed version.
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1, V2],
      version_info: eds.version_info,
      response_nonce: push.nonce,
      error_detail: { code: 3, message: 'endpoint 10.0.0.3 rejected' },
    });
    await until(() => s.server.status()[0]?.types[TYPE_URL.endpoint]?.nack !== undefined, 'NACK recorded');
    const status = s.server.status()[0].types[TYPE_URL.endpoint];
    assert.equal(status.acked, eds.version_info);
    assert.equal(status.sent, push.version_info);
    assert.equal(status.nack?.message, 'endpoint 10.0.0.3 rejected');
    assert.equal(status.nack?.version, push.version_info);
    assert.equal(s.server.counters.nacks, 1);
    assert.deepEqual(await c.pending(100), [], 'a NACKed version is not resent unchanged');

    // The next change is sent and its ACK clears the NACK.
    s.server.setSnapshot(mesh(3, [w1, w2]));
    const fixed = await c.next(TYPE_URL.endpoint);
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1, V2],
      version_info: fixed.version_info,
      response_nonce: fixed.nonce,
    });
    await until(() => s.server.status()[0]?.types[TYPE_URL.endpoint]?.nack === undefined, 'NACK cleared');
    assert.equal(s.server.status()[0].types[TYPE_URL.endpoint].acked, fixed.version_info);
    c.close();
    await until(() => s.server.status().length === 0, 'stream closed');
  });

  test('subscription changes: new names are sent, stale nonces ignored, unsubscribe then resubscribe resends', async () => {
    const c = client<DiscoveryResponseMessage>(s, 'sotw');
    c.send({ node: sidecarNode('reviews-2'), type_url: TYPE_URL.endpoint, resource_names: [V1] });
    const first = await c.next(TYPE_URL.endpoint);
    assert.deepEqual([...decodeAll(first).keys()], [V1]);
    // ACK and add V2: only V2 comes.
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1, V2],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    const second = await c.next(TYPE_URL.endpoint);
    assert.deepEqual([...decodeAll(second).keys()], [V2]);
    // A request carrying the old nonce is stale: ignored even though it changes the names.
    const staleBefore = s.server.counters.staleRequests;
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    assert.deepEqual(await c.pending(100), []);
    assert.equal(s.server.counters.staleRequests, staleBefore + 1);
    // Unsubscribe V2 (nothing to send), then subscribe again: it is sent again.
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1],
      version_info: second.version_info,
      response_nonce: second.nonce,
    });
    assert.deepEqual(await c.pending(100), []);
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V1, V2],
      version_info: second.version_info,
      response_nonce: second.nonce,
    });
    const third = await c.next(TYPE_URL.endpoint);
    assert.deepEqual([...decodeAll(third).keys()], [V2]);
  });

  test('ten snapshots in a row are coalesced into one push', async () => {
    const c = client<DiscoveryResponseMessage>(s, 'sotw');
    c.send({ node: sidecarNode('reviews-3'), type_url: TYPE_URL.endpoint, resource_names: [V2] });
    const first = await c.next(TYPE_URL.endpoint);
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [V2],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    const rounds = s.server.counters.pushRounds;
    for (let i = 0; i < 10; i++)
      s.server.setSnapshot(
        mesh(
          10 + i,
          i % 2 === 0
            ? [w1, w2, w3]
            : [w1, w2, w3, workload(`x${i}`, `10.1.0.${i}`, { app: 'reviews', version: 'v2' })],
        ),
      );
    const push = await c.next(TYPE_URL.endpoint);
    const hosts = decodeAll(push)
      .get(V2)!
      .endpoints[0].lb_endpoints.map((e: Decoded) => e.endpoint.address.socket_address.address);
    assert.deepEqual(hosts, ['10.0.0.2', '10.0.0.3', '10.1.0.9'], 'the last snapshot wins');
    assert.deepEqual(await c.pending(150), []);
    assert.equal(s.server.counters.pushRounds, rounds + 1);
  });

  test('bad node metadata ends the stream with INVALID_ARGUMENT', async () => {
    const c = client<DiscoveryResponseMessage>(s, 'sotw');
    c.send({ node: sidecarNode('bad', { WEFT_INBOUND_PORT: 'many' }), type_url: TYPE_URL.cluster });
    const status = await c.ended();
    assert.equal(status.code, 3);
    assert.match(
      status.details,
      /^WEFT_XDS_NODE_INVALID: node\.metadata\.WEFT_INBOUND_PORT must be a port number/,
    );
  });
});

describe('registry', () => {
  test('a sidecar joins on its first request and leaves (after the grace period) when its stream ends', async () => {
    const s = await start();
    try {
      s.server.setSnapshot(mesh(1, []));
      const c = client<DiscoveryResponseMessage>(s, 'sotw');
      c.send({
        node: sidecarNode('reviews-9', { INSTANCE_IPS: '10.9.9.9,10.9.9.10' }),
        type_url: TYPE_URL.cluster,
      });
      await c.next(TYPE_URL.cluster);
      assert.equal(s.registry.list().find((w) => w.uid === 'proxy~reviews-9')?.address, '10.9.9.9');
      const grpcClient = client<DiscoveryResponseMessage>(s, 'sotw');
      grpcClient.send({
        node: { id: 'plain-grpc' },
        type_url: TYPE_URL.listener,
        resource_names: [`${REVIEWS}:9080`],
      });
      await grpcClient.next(TYPE_URL.listener);
      assert.equal(s.registry.list().length, 1, 'a node without WEFT_SIDECAR is not a workload');
      c.close();
      await until(() => s.registry.list().length === 0, 'workload removal after grace');
    } finally {
      await stop(s);
    }
  });
});

describe('incremental (delta)', () => {
  test('wildcard CDS with versions, ACK, changes and removals; explicit EDS reports unknown names as removed', async () => {
    const s = await start();
    try {
      s.server.setSnapshot(mesh(1, [w1, w2]));
      const c = client<DeltaDiscoveryResponseMessage>(s, 'delta');
      c.send({ node: sidecarNode('reviews-d'), type_url: TYPE_URL.cluster, resource_names_subscribe: [] });
      const cds = await c.next(TYPE_URL.cluster);
      const names = cds.resources.map((r) => r.name);
      assert.ok(names.includes(V1) && names.includes(V2));
      assert.ok(cds.resources.every((r) => r.version.length > 0));
      c.send({ type_url: TYPE_URL.cluster, response_nonce: cds.nonce });
      await until(
        () => s.server.status()[0]?.types[TYPE_URL.cluster]?.acked === cds.system_version_info,
        'delta ACK',
      );

      c.send({ type_url: TYPE_URL.endpoint, resource_names_subscribe: [V1, 'outbound|1||nope'] });
      const eds = await c.next(TYPE_URL.endpoint);
      assert.deepEqual(
        eds.resources.map((r) => r.name),
        [V1],
      );
      assert.deepEqual(eds.removed_resources, ['outbound|1||nope']);
      c.send({ type_url: TYPE_URL.endpoint, response_nonce: eds.nonce });

      // Drop the v2 subset: its cluster is removed, nothing else is resent.
      const withoutV2 = mesh(2, [w1, w2]);
      const rule = withoutV2.destinationRules.get(REVIEWS)!;
      (withoutV2.destinationRules as Map<string, typeof rule>).set(REVIEWS, {
        ...rule,
        subsets: rule.subsets.slice(0, 1),
      });
      s.server.setSnapshot(withoutV2);
      const change = await c.next(TYPE_URL.cluster);
      assert.deepEqual(change.resources, []);
      assert.deepEqual(change.removed_resources, [V2]);
      assert.deepEqual(await c.pending(100), []);

      // A client reconnecting with the versions it has gets only what differs.
      const again = client<DeltaDiscoveryResponseMessage>(s, 'delta');
      const known = Object.fromEntries(cds.resources.map((r) => [r.name, r.version]));
      again.send({
        node: sidecarNode('reviews-d2'),
        type_url: TYPE_URL.cluster,
        resource_names_subscribe: ['*'],
        initial_resource_versions: known,
      });
      const resumed = await again.next(TYPE_URL.cluster);
      assert.deepEqual(resumed.resources, []);
      assert.deepEqual(resumed.removed_resources, [V2]);
    } finally {
      await stop(s);
    }
  });
});
