// Mesh DNS against real resolvers: node's dns.Resolver (UDP) and a TCP client ask a MeshDns fed by a generated outbound route table.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { after, before, test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { GenerateContext } from '../../src/control/xds/generate/common.ts';
import { generateRoutes } from '../../src/control/xds/generate/rds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { allocateVips } from '../../src/model/vips.ts';
import { MeshDns } from '../../src/proxy/dns/mesh-dns.ts';
import { nameTableOf, vipKey } from '../../src/proxy/dns/name-table.ts';
import { parseNameservers } from '../../src/proxy/dns/upstream.ts';
import { compileRouteTable } from '../../src/proxy/http/router/route-table.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { service, snapshot } from '../helpers/grpc-xds-mesh.ts';

const services = [
  service('reviews', [{ number: 9080 }]),
  service('redis', [{ number: 6379, name: 'tcp-redis', protocol: 'TCP' }]),
  service('ratings', [{ number: 80 }], { namespace: 'prod' }),
  service('api', [{ number: 443, name: 'tls', protocol: 'TLS' }], {
    hostname: 'api.example.com',
    addresses: ['10.9.9.9'],
  }),
];
const snap = { ...snapshot({ services }), vips: allocateVips(new Map(services.map((s) => [s.hostname, s]))) };
const proxy = proxyFromNode({
  id: 'productpage-1',
  metadata: jsonToStruct({ WEFT_SIDECAR: 'true', NAMESPACE: 'default', LABELS: { app: 'productpage' } }),
});
const ctx: GenerateContext = { snapshot: snap, proxy, warn: () => {} };
const [outbound] = generateRoutes(ctx, ['outbound']);
const wire = decodeResource(TYPE_URL.route, encodeResource(TYPE_URL.route, outbound.resource));
const names = nameTableOf(compileRouteTable(camelize(wire) as Record<string, unknown>));
const VIP = snap.vips.get('reviews.default.svc.cluster.local')?.[0] ?? '';

/** A stand-in for the host's resolver: answers every A question with 192.0.2.7. */
let upstream: dgram.Socket;
let dns: MeshDns;
let resolver: Resolver;
let port: number;

before(async () => {
  upstream = dgram.createSocket('udp4');
  upstream.on('message', (query, from) => {
    const q = dnsPacket.decode(query);
    const reply = dnsPacket.encode({
      id: q.id,
      type: 'response',
      questions: q.questions,
      answers: (q.questions ?? []).map((x) => ({ type: 'A', name: x.name, ttl: 5, data: '192.0.2.7' })),
    });
    upstream.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));
  dns = new MeshDns({
    host: '127.0.0.1',
    port: 0,
    names: () => names,
    upstreams: [{ address: '127.0.0.1', port: upstream.address().port }],
  });
  port = await dns.listen();
  resolver = new Resolver({ timeout: 5000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
});

after(() => {
  dns?.close();
  upstream?.close();
});

test('the outbound routes carry each service VIP as a domain; the name table maps names and VIP:port', () => {
  assert.match(VIP, /^240\.240\./);
  assert.equal(names.vips.get(vipKey(VIP, 9080))?.name, 'reviews.default.svc.cluster.local:9080');
  assert.ok(names.vips.has(vipKey('10.9.9.9', 443)), "a ServiceEntry's own address");
  assert.equal(names.vips.has(vipKey(VIP, 80)), false, 'only the ports the service has');
});

test('A of every name of a service in the proxy namespace is its VIP (short, .ns, .ns.svc, FQDN, trailing dot)', async () => {
  for (const name of [
    'reviews',
    'reviews.default',
    'reviews.default.svc',
    'reviews.default.svc.cluster.local',
    'REVIEWS.default.svc.cluster.local.',
  ])
    assert.deepEqual(await resolver.resolve4(name), [VIP], name);
  const redis = await resolver.resolve4('redis');
  assert.match(redis[0], /^240\.240\./, 'a TCP service has a VIP too');
  assert.notEqual(redis[0], VIP);
  assert.deepEqual(await resolver.resolve4('api.example.com'), ['10.9.9.9']);
});

test('another namespace is reached with .ns (its short name belongs to that namespace only); AAAA is NODATA', async () => {
  assert.match((await resolver.resolve4('ratings.prod'))[0], /^240\.240\./);
  // Not a mesh name here: forwarded, and the upstream answers for it.
  assert.deepEqual(await resolver.resolve4('ratings'), ['192.0.2.7']);
  await assert.rejects(resolver.resolve6('reviews'), { code: 'ENODATA' });
  assert.ok(dns.stats.answered >= 1 && dns.stats.forwarded >= 1, JSON.stringify(dns.stats));
});

test('other names are forwarded to the upstream resolver unchanged', async () => {
  assert.deepEqual(await resolver.resolve4('example.org'), ['192.0.2.7']);
});

test('DNS over TCP answers the same', async () => {
  const query = dnsPacket.streamEncode({
    id: 42,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'reviews.default' }],
  });
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    socket.setTimeout(5000, () => reject(new Error('no TCP answer within 5 s')));
    socket.on('error', reject);
    socket.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.write(query);
  });
  const answer = dnsPacket.streamDecode(reply);
  assert.equal(answer.id, 42);
  assert.deepEqual(
    answer.answers?.map((a) => (a as { data: string }).data),
    [VIP],
  );
});

test('resolv.conf: nameservers in order, zone ids dropped, 127.0.0.1 when none', () => {
  assert.deepEqual(
    parseNameservers('search x\nnameserver 10.0.0.2\n# nameserver 9.9.9.9\nnameserver fe80::1%eth0\n'),
    ['10.0.0.2', 'fe80::1'],
  );
  assert.deepEqual(parseNameservers(''), ['127.0.0.1']);
});

test('ipv6Twin: the same answers on [::1] and the same port (where ip6tables sends IPv6 queries)', async (t) => {
  const twin = new MeshDns({ host: '127.0.0.1', port: 0, names: () => names, upstreams: [], ipv6Twin: true });
  const twinPort = await twin.listen();
  t.after(() => twin.close());
  const probe = net.createServer();
  const hasIpv6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
  if (!hasIpv6) return t.skip('this machine has no ::1');
  const v6 = new Resolver({ timeout: 5000, tries: 1 });
  v6.setServers([`[::1]:${twinPort}`]);
  assert.deepEqual(await v6.resolve4('reviews'), [VIP]);
});
