// Incremental pushes: a proxy joining or leaving a real control plane compiles nothing, generates no route or cluster, and pushes EDS only to the others; shared EDS changes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlane } from '../../src/control/control-plane.ts';
import { type AdsServer, createXdsServer } from '../../src/control/xds/server.ts';
import type { PushStatsResponse } from '../../src/control/xds/types.ts';
import { pushStatsRoute } from '../../src/control/xds/wiring.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import {
  adsService,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from '../../src/xds/discovery.ts';
import { decodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { AdsTestClient, type Decoded, sidecarNode } from '../helpers/grpc-ads-client.ts';
import { destinationRule, service, snapshot, workload } from '../helpers/grpc-xds-mesh.ts';

setLogLevel('silent');

const AdsClient = grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService');
const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const NON_EDS = [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route];

/** A sidecar's ADS stream as Envoy drives it: wildcard CDS and LDS, EDS for every EDS cluster, RDS `outbound`; ACKs everything. */
class Sidecar {
  readonly received: DiscoveryResponseMessage[] = [];
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;
  #edsNames: string[] = [];

  constructor(address: string, id: string, ip: string, service = 'reviews') {
    this.#client = new AdsClient(address, grpc.credentials.createInsecure());
    const methods = this.#client as unknown as Record<string, () => Sidecar['call']>;
    this.#call = methods.StreamAggregatedResources.call(this.#client);
    this.#call.on('data', (r: DiscoveryResponseMessage) => this.#onResponse(r));
    this.#call.on('error', () => {});
    const node = sidecarNode(id, {
      INSTANCE_IPS: [ip],
      WEFT_SERVICE: service,
      LABELS: { app: service, version: 'v1' },
    });
    this.#call.write({ node, type_url: TYPE_URL.cluster, resource_names: [] } as DiscoveryRequestMessage);
    this.#call.write({
      type_url: TYPE_URL.listener,
      resource_names: [],
    } as Partial<DiscoveryRequestMessage> as DiscoveryRequestMessage);
    this.#call.write({
      type_url: TYPE_URL.route,
      resource_names: ['outbound'],
    } as Partial<DiscoveryRequestMessage> as DiscoveryRequestMessage);
  }

  get call() {
    return this.#call;
  }

  #onResponse(r: DiscoveryResponseMessage): void {
    this.received.push(r);
    const type = r.type_url ?? '';
    let names: string[] = [];
    if (type === TYPE_URL.endpoint) names = this.#edsNames;
    if (type === TYPE_URL.route) names = ['outbound'];
    const ack = {
      type_url: type,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: names,
    };
    this.#call.write(ack as DiscoveryRequestMessage);
    if (type !== TYPE_URL.cluster) return;
    const eds = r.resources
      .map((any) => decodeResource(any.type_url, any.value))
      .filter((c) => c.type === 'EDS');
    const wanted = eds.map((c) => String(c.name)).sort();
    if (wanted.join() === this.#edsNames.join()) return;
    const opening = this.#edsNames.length === 0;
    this.#edsNames = wanted;
    const last = this.received.findLast((x) => x.type_url === TYPE_URL.endpoint);
    this.#call.write({
      type_url: TYPE_URL.endpoint,
      resource_names: wanted,
      ...(opening ? {} : { version_info: last?.version_info, response_nonce: last?.nonce }),
    } as DiscoveryRequestMessage);
  }

  /** The responses received from `from` on. */
  since(from: number): DiscoveryResponseMessage[] {
    return this.received.slice(from);
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** Endpoint addresses of one cluster in an EDS response. */
function addresses(response: DiscoveryResponseMessage, cluster: string): string[] {
  const assignment = response.resources
    .map((any) => decodeResource(any.type_url, any.value) as Decoded)
    .find((a) => a.cluster_name === cluster);
  return (assignment?.endpoints ?? [])
    .flatMap((group: Decoded) => group.lb_endpoints)
    .map((e: Decoded) => e.endpoint.address.socket_address.address)
    .sort();
}

test('a replica joining and leaving: nothing compiled, no cluster, listener or route generated, EDS-only pushes to the others', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-eds-only-'));
  let server: AdsServer | undefined;
  const cp = new ControlPlane(
    {
      dataDir,
      api: { host: '127.0.0.1', port: 0 },
      xds: { host: '127.0.0.1', port: 0 },
      pushDebounceMs: 10,
      registryGraceMs: 50,
    },
    {
      createXdsServer: ({ registry, config }) => {
        server = createXdsServer({ registry, debounceMs: config.pushDebounceMs });
        return server;
      },
      apiRoutes: ({ compiled }) => [pushStatsRoute(() => server, compiled)],
    },
  );
  const { apiUrl, xdsAddress } = await cp.start();
  const sidecars: Sidecar[] = [];
  t.after(async () => {
    for (const s of sidecars) s.close();
    await cp.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - timeout: 3s
    route: [{destination: {host: reviews}}]
`;
  const applied = await fetch(`${apiUrl}/api/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sources: [{ file: 'reviews.yaml', text: yaml }] }),
  });
  assert.equal(applied.status, 200, await applied.text());
  const xds = server!;

  /** Every stream has ACKed everything it was sent, from the control plane's latest snapshot, with `workloads` registered. */
  const settled = (workloads: number) =>
    eventuallyTrue(`${workloads} workloads registered and every push ACKed`, () => {
      const snapshot = cp.snapshot();
      if (snapshot.workloads.length !== workloads || xds.currentSnapshot() !== snapshot) return false;
      const status = xds.status();
      return (
        status.length === sidecars.length &&
        status.every(
          (p) => Object.keys(p.types).length === 4 && Object.values(p.types).every((s) => s.sent === s.acked),
        )
      );
    });

  sidecars.push(
    new Sidecar(xdsAddress!, 'reviews-1', '127.0.0.11'),
    new Sidecar(xdsAddress!, 'ratings-1', '127.0.0.12', 'ratings'),
  );
  await settled(2);
  const { compiles, assemblies } = cp.compiled.counters;
  assert.equal(compiles, 1, 'the VirtualService, compiled once when applied');
  const generated = (type: string) => xds.counters.generated.get(type) ?? 0;
  const before = NON_EDS.map(generated);
  const edsOnlyRounds = xds.counters.edsOnlyRounds;
  const marks = sidecars.map((s) => s.received.length);

  // A second replica of reviews joins: the others get one EDS response each, with its endpoint.
  const joining = new Sidecar(xdsAddress!, 'reviews-2', '127.0.0.13');
  sidecars.push(joining);
  await settled(3);
  assert.equal(xds.counters.edsOnlyRounds, edsOnlyRounds + 1);
  for (const [i, sidecar] of sidecars.slice(0, 2).entries()) {
    const pushed = sidecar.since(marks[i]);
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [TYPE_URL.endpoint],
      'an EDS-only push',
    );
    assert.deepEqual(addresses(pushed[0], REVIEWS), ['127.0.0.11', '127.0.0.13']);
  }
  // The joining proxy gets its full config, all of it generated before for its twin reviews-1.
  assert.deepEqual(
    new Set(joining.received.map((r) => r.type_url)),
    new Set([...NON_EDS, TYPE_URL.endpoint]),
  );
  assert.deepEqual(NON_EDS.map(generated), before, 'no cluster, listener or route generated');
  assert.equal(cp.compiled.counters.compiles, compiles, 'nothing compiled');
  assert.equal(cp.compiled.counters.assemblies, assemblies, 'the config part reused as it is');

  // It leaves: after the registry's grace period, an EDS-only push takes its endpoint away.
  const marksAfterJoin = sidecars.slice(0, 2).map((s) => s.received.length);
  joining.close();
  sidecars.pop();
  await settled(2);
  assert.equal(xds.counters.edsOnlyRounds, edsOnlyRounds + 2);
  for (const [i, sidecar] of sidecars.entries()) {
    const pushed = sidecar.since(marksAfterJoin[i]);
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [TYPE_URL.endpoint],
    );
    assert.deepEqual(addresses(pushed[0], REVIEWS), ['127.0.0.11']);
  }
  assert.deepEqual(NON_EDS.map(generated), before);
  assert.equal(cp.compiled.counters.compiles, compiles);

  // A change of routes is a full push again (the control case): RDS reaches both.
  const marksBeforeChange = sidecars.map((s) => s.received.length);
  const changed = await fetch(`${apiUrl}/api/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sources: [{ file: 'reviews.yaml', text: yaml.replace('3s', '4s') }] }),
  });
  assert.equal(changed.status, 200);
  await eventuallyTrue('the route change reached both sidecars', () =>
    sidecars.every((s, i) => s.since(marksBeforeChange[i]).some((r) => r.type_url === TYPE_URL.route)),
  );
  assert.equal(cp.compiled.counters.compiles, compiles + 1);
  assert.equal(xds.counters.edsOnlyRounds, edsOnlyRounds + 2);

  // The same counters, as an operator reads them.
  const stats = (await (await fetch(`${apiUrl}/api/v1/debug/push`)).json()) as PushStatsResponse;
  assert.equal(stats.compiles, compiles + 1);
  assert.equal(stats.edsOnlyRounds, edsOnlyRounds + 2);
  assert.equal(stats.pushRounds, xds.counters.pushRounds);
  assert.equal(stats.generated[TYPE_URL.route], xds.counters.generated.get(TYPE_URL.route));
  assert.ok(stats.generated[TYPE_URL.route] > before[2], 'the route change generated routes');
});

test('state of the world EDS: changes shared between clients; a resource that goes away and comes back is sent again', async (t) => {
  const server = createXdsServer({ debounceMs: 5 });
  const port = await server.listen('127.0.0.1', 0);
  const clients: AdsTestClient<DiscoveryResponseMessage>[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const host = 'reviews.default.svc.cluster.local';
  const v1 = `outbound|9080|v1|${host}`;
  const v2 = `outbound|9080|v2|${host}`;
  const subsets = [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ];
  const mesh = (version: number, addresses: string[], withSubsets = true) =>
    snapshot({
      version,
      services: [service('reviews', [{ number: 9080 }])],
      workloads: addresses.map((a, i) => workload(`r${i}`, a, { app: 'reviews', version: `v${i + 1}` })),
      destinationRules: withSubsets ? [destinationRule(host, { subsets })] : [],
    });
  server.setSnapshot(mesh(1, ['10.0.0.1']));
  const subscribe = async (id: string) => {
    const c = new AdsTestClient<DiscoveryResponseMessage>(`127.0.0.1:${port}`, 'sotw');
    clients.push(c);
    c.send({ node: sidecarNode(id), type_url: TYPE_URL.endpoint, resource_names: [v1, v2] });
    const first = await c.next(TYPE_URL.endpoint);
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [v1, v2],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    return c;
  };
  const [a, b] = [await subscribe('a'), await subscribe('b')];
  // A v2 endpoint appears: both get only v2, built once for both.
  server.setSnapshot(mesh(2, ['10.0.0.1', '10.0.0.2']));
  for (const c of [a, b]) {
    const push = await c.next(TYPE_URL.endpoint);
    assert.deepEqual(
      push.resources.map((r) => decodeResource(r.type_url, r.value).cluster_name),
      [v2],
    );
    c.send({
      type_url: TYPE_URL.endpoint,
      resource_names: [v1, v2],
      version_info: push.version_info,
      response_nonce: push.nonce,
    });
  }
  // The subsets go away (nothing to send in state of the world), then come back: sent again.
  server.setSnapshot(mesh(3, ['10.0.0.1', '10.0.0.2'], false));
  assert.deepEqual(await a.pending(100), []);
  server.setSnapshot(mesh(4, ['10.0.0.1', '10.0.0.2']));
  for (const c of [a, b]) {
    const push = await c.next(TYPE_URL.endpoint);
    assert.deepEqual(push.resources.map((r) => decodeResource(r.type_url, r.value).cluster_name).sort(), [
      v1,
      v2,
    ]);
  }
});

test('a push round superseded before every stream had its turn: the next round, EDS-only, still brings those streams every type', async (t) => {
  const server = createXdsServer({ debounceMs: 0 });
  const port = await server.listen('127.0.0.1', 0);
  const clients: AdsTestClient<DiscoveryResponseMessage>[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const reviews = service('reviews', [{ number: 9080 }]);
  const ratings = service('ratings', [{ number: 9080 }]);
  server.setSnapshot(snapshot({ version: 1, services: [reviews] }));
  // More streams than one slice of a push round (50) serves before yielding.
  for (let i = 0; i < 120; i++) {
    const c = new AdsTestClient<DiscoveryResponseMessage>(`127.0.0.1:${port}`, 'sotw');
    clients.push(c);
    c.send({ node: sidecarNode(`s${i}`), type_url: TYPE_URL.route, resource_names: ['outbound'] });
  }
  const first = await Promise.all(clients.map((c) => c.next(TYPE_URL.route, 20_000)));
  // A new service (routes change), then at once an endpoints-only snapshot on top of it: the
  // first round is superseded after a slice or two, the second pushes EDS only to the streams
  // the first reached.
  server.setSnapshot(snapshot({ version: 2, services: [reviews, ratings] }));
  setTimeout(() =>
    server.setSnapshot(
      snapshot({
        version: 3,
        configVersion: 2,
        services: [reviews, ratings],
        workloads: [workload('r1', '10.0.0.1', { app: 'reviews' })],
      }),
    ),
  );
  const second = await Promise.all(clients.map((c) => c.next(TYPE_URL.route, 20_000)));
  for (const [i, response] of second.entries()) {
    assert.notEqual(response.version_info, first[i].version_info, `stream ${i} got the new routes`);
    assert.equal(response.resources.length, 1);
  }
});
