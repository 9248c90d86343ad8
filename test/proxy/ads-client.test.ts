// The ADS client against a scripted gRPC ADS server: subscriptions, ACK, NACK naming the field, reconnect.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { AdsClient } from '../../src/proxy/xds-client/ads-client.ts';
import {
  adsService,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
} from '../../src/xds/discovery.ts';
import { encodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

type Call = grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

/** A scripted ADS server: records requests and answers with whatever `resources` holds per type. */
class FakeAds {
  server = new grpc.Server();
  port = 0;
  requests: DiscoveryRequestMessage[] = [];
  calls: Call[] = [];
  versions = new Map<string, number>();
  resources = new Map<string, Record<string, unknown>[]>();
  private nonce = 0;

  async start(port = 0): Promise<void> {
    this.server.addService(adsService, {
      StreamAggregatedResources: (call: Call) => {
        this.calls.push(call);
        call.on('data', (req: DiscoveryRequestMessage) => {
          this.requests.push(req);
          // Answer the first request of a type on this stream, and any request that changes names.
          if (!req.response_nonce) this.send(call, req.type_url ?? '', req.resource_names);
        });
        call.on('error', () => {});
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  }

  send(call: Call, typeUrl: string, names: string[] = []): void {
    const all = this.resources.get(typeUrl);
    if (!all) return;
    const wanted =
      names.length === 0 ? all : all.filter((r) => names.includes(String(r.name ?? r.cluster_name)));
    call.write({
      version_info: String(this.versions.get(typeUrl) ?? 1),
      type_url: typeUrl,
      nonce: String(++this.nonce),
      resources: wanted.map((r) => ({ type_url: typeUrl, value: encodeResource(typeUrl, r) })),
    });
  }

  /** Pushes a new version of a type to every open stream. */
  push(typeUrl: string, resources: Record<string, unknown>[]): void {
    this.versions.set(typeUrl, (this.versions.get(typeUrl) ?? 1) + 1);
    this.resources.set(typeUrl, resources);
    for (const c of this.calls) if (!c.cancelled) this.send(c, typeUrl);
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

let echo: Echo;
let ads: FakeAds;
let core: ProxyCore;
let client: AdsClient;

function cluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: name },
    connect_timeout: { seconds: 1 },
    ...extra,
  };
}

const listener = {
  name: 'outbound',
  address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': HCM,
            stat_prefix: 'outbound',
            rds: { config_source: { ads: {} }, route_config_name: 'outbound' },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
          },
        },
      ],
    },
  ],
};

before(async () => {
  echo = await startHttpEcho('app');
  ads = new FakeAds();
  ads.resources.set(TYPE_URL.cluster, [cluster('c1')]);
  ads.resources.set(TYPE_URL.listener, [listener]);
  ads.resources.set(TYPE_URL.route, [
    {
      name: 'outbound',
      virtual_hosts: [
        {
          name: 'app',
          domains: ['app'],
          routes: [{ match: { prefix: '/' }, route: { cluster: 'c1', timeout: {} } }],
        },
      ],
    },
  ]);
  ads.resources.set(TYPE_URL.endpoint, [
    {
      cluster_name: 'c1',
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echo.port } } } },
          ],
        },
      ],
    },
  ]);
  await ads.start();
  core = new ProxyCore();
  client = new AdsClient(
    {
      address: `127.0.0.1:${ads.port}`,
      node: { id: 'test-node', cluster: 'test' },
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    },
    core,
    pino({ level: 'silent' }),
  );
  client.start();
});

after(async () => {
  client?.close();
  core?.destroy();
  ads?.stop();
  await echo.close();
});

test('subscribes CDS and LDS as wildcards, then RDS and EDS by the names they need; ACKs each', async () => {
  await eventuallyTrue('ready', () => core.ready());
  const port = core.listeners.get('outbound')!.port;
  const r = await request(port, { host: 'app', path: '/x' });
  assert.equal(r.json?.name, 'app');
  const rds = ads.requests.filter((q) => q.type_url === TYPE_URL.route);
  assert.deepEqual(rds[0].resource_names, ['outbound']);
  const eds = ads.requests.filter((q) => q.type_url === TYPE_URL.endpoint);
  assert.deepEqual(eds[0].resource_names, ['c1']);
  await eventuallyTrue('ACKs', () =>
    ads.requests.some(
      (q) => q.type_url === TYPE_URL.cluster && q.version_info === '1' && q.response_nonce !== '',
    ),
  );
  assert.equal(ads.requests[0].node?.id, 'test-node');
});

test('an unsupported field is NACKed with its name; the previous version keeps serving', async () => {
  ads.push(TYPE_URL.cluster, [cluster('c1', { transport_socket: { name: 'envoy.transport_sockets.tls' } })]);
  await eventuallyTrue('NACK', () =>
    ads.requests.some((q) => q.type_url === TYPE_URL.cluster && q.error_detail !== undefined),
  );
  const nack = ads.requests.find((q) => q.type_url === TYPE_URL.cluster && q.error_detail !== undefined)!;
  assert.match(nack.error_detail!.message ?? '', /transport_socket/);
  assert.equal(nack.version_info, '1', 'a NACK carries the last accepted version');
  const port = core.listeners.get('outbound')!.port;
  assert.equal((await request(port, { host: 'app' })).status, 200);
  assert.match(client.status()[TYPE_URL.cluster].lastError, /transport_socket/);
});

test('keeps serving while the control plane is down, and resubscribes when it is back', async () => {
  const port = core.listeners.get('outbound')!.port;
  const resources = ads.resources;
  ads.stop();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await request(port, { host: 'app' })).status, 200);
  const next = new FakeAds();
  next.resources = resources;
  next.resources.set(TYPE_URL.cluster, [cluster('c1')]);
  await next.start(ads.port);
  ads = next;
  await eventuallyTrue('a new stream with the last ACKed versions', () =>
    next.requests.some((q) => q.type_url === TYPE_URL.listener && q.version_info === '1'),
  );
  await eventuallyTrue('RDS resubscribed', () =>
    next.requests.some((q) => q.type_url === TYPE_URL.route && q.resource_names.includes('outbound')),
  );
  assert.equal((await request(port, { host: 'app' })).status, 200);
});
