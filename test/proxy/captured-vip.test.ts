// Captured connections to a service VIP (routeCapturedToService) against real sockets: TCP through the CONNECT route's weighted clusters, HTTP handed to the HTTP chain with its first bytes.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { nameTableOf, vipKey } from '../../src/proxy/dns/name-table.ts';
import { compileRouteTable } from '../../src/proxy/http/router/route-table.ts';
import { routeCapturedToService } from '../../src/proxy/listener/captured.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { coreWith, staticCluster } from './fixtures.ts';

const VIP = '240.240.0.9';
const connect = (route: Record<string, unknown>) => ({
  name: 'connect',
  match: { connectMatcher: {} },
  route: { ...route, upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] },
});
const table = compileRouteTable({
  name: 'outbound',
  virtualHosts: [
    {
      name: 'redis:6379',
      domains: ['redis:6379', `${VIP}:6379`],
      // A VirtualService tcp route: all of it to `b`.
      routes: [
        connect({
          weightedClusters: {
            clusters: [
              { name: 'a', weight: { value: 0 } },
              { name: 'b', weight: { value: 100 } },
            ],
          },
        }),
      ],
    },
    {
      name: 'web:80',
      domains: ['web', 'web:80', VIP, `${VIP}:80`],
      routes: [
        connect({ cluster: 'a' }),
        { name: 'default', match: { prefix: '/' }, route: { cluster: 'a' } },
      ],
    },
  ],
});
const names = nameTableOf(table);

let core: ProxyCore;
const servers: net.Server[] = [];
let front: net.Server;
/** What the front server does with each accepted socket (set per test). */
let onAccept: (socket: net.Socket) => void = () => {};

/** A TCP server that answers each chunk with `<tag>:<chunk>`. */
function tagged(tag: string): Promise<net.Server> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`${tag}:${d}`)).on('error', () => {}));
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

before(async () => {
  const [a, b] = await Promise.all([tagged('A'), tagged('B')]);
  core = await coreWith({
    listeners: [],
    clusters: [staticCluster('a', [{ port: portOf(a) }]), staticCluster('b', [{ port: portOf(b) }])],
  });
  front = net.createServer((socket) => onAccept(socket));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
});

after(() => {
  for (const s of [...servers, front]) s.close();
  core.destroy();
});

/** Sends `bytes` to the front server and resolves with the first answer. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(portOf(front), '127.0.0.1', () => c.write(bytes));
    c.setTimeout(10_000, () => reject(new Error('no answer within 10 s')));
    c.on('error', reject);
    c.once('data', (d) => {
      c.destroy();
      resolve(String(d));
    });
  });
}

test('a VIP:port is found by its virtual host; a port the service does not have is not', () => {
  assert.equal(names.vips.get(vipKey(VIP, 6379))?.name, 'redis:6379');
  assert.equal(names.vips.get(vipKey(VIP, 81)), undefined);
  assert.deepEqual(names.names.get('redis')?.v4, [VIP]);
});

test('a TCP-only port: the bytes go to the cluster the CONNECT route weighs in (b, 100 of 100)', async () => {
  const vhost = names.vips.get(vipKey(VIP, 6379))!;
  onAccept = (socket) => routeCapturedToService(socket, vhost, core.clusters, () => assert.fail('not HTTP'));
  for (let i = 0; i < 5; i++) assert.equal(await exchange('PING'), 'B:PING');
  assert.ok(core.clusters.get('b')!.stats.cxTotal >= 5);
  assert.equal(core.clusters.get('a')!.stats.cxTotal, 0);
});

test('an HTTP port: HTTP goes to the HTTP chain with the bytes read so far; other bytes go as TCP', async () => {
  const vhost = names.vips.get(vipKey(VIP, 80))!;
  let handed = '';
  onAccept = (socket) =>
    routeCapturedToService(socket, vhost, core.clusters, (s, first) => {
      handed = String(first);
      s.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
  assert.match(await exchange('GET / HTTP/1.1\r\nHost: web\r\n\r\n'), /^HTTP\/1\.1 204/);
  assert.match(handed, /^GET \/ HTTP\/1\.1\r\n/);
  assert.equal(await exchange('*1\r\n$4\r\nPING\r\n'), 'A:*1\r\n$4\r\nPING\r\n');
});
