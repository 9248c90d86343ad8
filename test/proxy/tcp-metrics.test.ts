// Istio's TCP metrics on a real tcp_proxy pair (outbound → inbound → app): both reporters, bytes each way, failures flagged.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { renderPrometheus } from '../../src/proxy/admin/prometheus.ts';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { eventually } from '../helpers/eventually.ts';
import { inboundListener, staticCluster, TCP_PROXY } from './fixtures.ts';

type Obj = Record<string, unknown>;

const SERVICE = 'outbound|5432||db.data.svc.cluster.local';
const DEAD = 'outbound|5433||gone.data.svc.cluster.local';

let core: ProxyCore;
let app: net.Server;

function tcpListener(name: string, cluster: string): Obj {
  return {
    name,
    address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
    filterChains: [
      {
        name,
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typedConfig: { '@type': TCP_PROXY, statPrefix: cluster, cluster },
          },
        ],
      },
    ],
  };
}

/** Sends `data` through the listener, half-closes, and resolves with what came back. */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(data));
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

/** The value of the sample whose line contains every fragment, or undefined. */
function sample(text: string, name: string, ...fragments: string[]): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && fragments.every((f) => l.includes(f)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

before(async () => {
  // The app answers twice as many bytes as it got ("ab" → "abab").
  app = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    s.on('end', () => s.end(got + got));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  const appPort = (app.address() as net.AddressInfo).port;
  core = new ProxyCore({
    workload: {
      name: 'db',
      namespace: 'data',
      principal: 'spiffe://cluster.local/ns/data/sa/db',
      labels: { app: 'db', version: 'v2' },
      serviceHost: 'db.data.svc.cluster.local',
    },
  });
  const wrap = (list: Obj[]) => list.map((body) => ({ name: String(body.name), body }));
  await core.apply(TYPE_URL.cluster, wrap([staticCluster('inbound|5432||', [{ port: appPort }])]), '1', true);
  await core.apply(TYPE_URL.listener, wrap([inboundListener(0, 5432)]), '1', true);
  const inbound = core.listeners.get('inbound')!.port;
  const clusters = [
    staticCluster('inbound|5432||', [{ port: appPort }]),
    staticCluster(SERVICE, [{ port: inbound }]),
    staticCluster(DEAD, []),
  ];
  await core.apply(TYPE_URL.cluster, wrap(clusters), '2', true);
  await core.apply(
    TYPE_URL.listener,
    wrap([inboundListener(0, 5432), tcpListener('db-out', SERVICE), tcpListener('gone-out', DEAD)]),
    '2',
    true,
  );
});

after(async () => {
  core?.destroy();
  await new Promise<void>((r) => app.close(() => r()));
});

test('a proxied TCP connection counts at the source and the destination reporter, with bytes each way', async () => {
  const port = core.listeners.get('db-out')!.port;
  assert.equal(await exchange(port, '\0abc'), '\0abc\0abc');
  assert.equal(await exchange(port, '\0de'), '\0de\0de');
  const source = [
    'reporter="source"',
    'destination_service="db.data.svc.cluster.local"',
    'source_workload="db"',
  ];
  const dest = [
    'reporter="destination"',
    'destination_workload="db"',
    'destination_app="db"',
    'destination_version="v2"',
  ];
  await eventually(async () => {
    const text = renderPrometheus(core, undefined);
    assert.equal(sample(text, 'istio_tcp_connections_closed_total', ...source), 2);
    assert.equal(sample(text, 'istio_tcp_connections_closed_total', ...dest), 2);
  }, 10_000);
  const text = renderPrometheus(core, undefined);
  assert.equal(
    sample(text, 'istio_tcp_connections_opened_total', ...source, 'destination_service_name="db"'),
    2,
  );
  assert.equal(sample(text, 'istio_tcp_received_bytes_total', ...source), 7);
  assert.equal(sample(text, 'istio_tcp_sent_bytes_total', ...source), 14);
  assert.equal(
    sample(text, 'istio_tcp_received_bytes_total', ...dest, 'connection_security_policy="none"'),
    7,
  );
  assert.equal(sample(text, 'istio_tcp_sent_bytes_total', ...dest, 'request_protocol="tcp"'), 14);
  assert.match(text, /# TYPE istio_tcp_sent_bytes_total counter/);
});

test('a TCP connection to a cluster with no host counts with response_flags UH', async () => {
  const port = core.listeners.get('gone-out')!.port;
  assert.equal(await exchange(port, 'x'), '');
  const text = renderPrometheus(core, undefined);
  const flagged = [
    'reporter="source"',
    'destination_service="gone.data.svc.cluster.local"',
    'response_flags="UH"',
  ];
  assert.equal(sample(text, 'istio_tcp_connections_opened_total', ...flagged), 1);
  assert.equal(sample(text, 'istio_tcp_connections_closed_total', ...flagged), 1);
});
