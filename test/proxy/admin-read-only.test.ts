// Admin's read-only part (what the stats port serves to the control plane): GETs of stats, dumps and tap only.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AdminServer } from '../../src/proxy/admin/admin-server.ts';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { request } from '../helpers/http-client.ts';

let core: ProxyCore;
let server: http.Server;
let port: number;

before(async () => {
  core = new ProxyCore();
  const admin = new AdminServer({
    ready: () => true,
    prometheus: async () => 'envoy_server_live 1\n',
    configDump: () => ({ configs: [] }),
    clusters: async () => '',
    core,
    nodeId: () => 'sidecar~10.0.0.2~a.default~default.svc.cluster.local',
  });
  server = http.createServer((req, res) => void admin.handleReadOnly(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  server.close();
  core.destroy();
});

test('serves the stats and the dumps the control plane relays', async () => {
  const stats = await request(port, { path: '/stats/prometheus' });
  assert.equal(stats.status, 200);
  assert.match(stats.body.toString(), /envoy_server_live 1/);
  assert.equal((await request(port, { path: '/config_dump' })).status, 200);
  assert.equal((await request(port, { path: '/server_info' })).status, 200);
});

test('refuses what changes state, and every other method', async () => {
  for (const [method, path] of [
    ['POST', '/logging?level=debug'],
    ['GET', '/logging'],
    ['POST', '/stats/prometheus'],
    ['GET', '/help'],
  ]) {
    const r = await request(port, { method, path });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.match(r.body.toString(), /serves GET .*\/stats\/prometheus/);
  }
});
