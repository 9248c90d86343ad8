// End to end: MeshConfig's defaultServiceExportTo keeps a service from the proxies of other namespaces; the service's own exportTo lets one in, and `weft apply` warns about the route that cannot reach it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startSidecar } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const ORDERS = 'outbound|80||orders.shop.svc.cluster.local';
const FRONTEND = 'outbound|80||frontend.web.svc.cluster.local';

function orders(exportTo: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: shop}
spec:
  hosts: [orders.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.9}]
${exportTo}`;
}

/** The outbound clusters a sidecar holds, from its admin port. */
async function clusters(admin: number): Promise<string[]> {
  const res = await request(admin, { host: '127.0.0.1', path: '/clusters?format=json' });
  const body = JSON.parse(res.body.toString('utf8')) as { clusterStatuses: { name: string }[] };
  return body.clusterStatuses.map((c) => c.name).filter((name) => name.startsWith('outbound|'));
}

test("defaultServiceExportTo ['.']: a proxy in another namespace does not get the service until its exportTo names that namespace", {
  timeout: 120_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-export-'));
  const procs: WeftProcess[] = [];
  t.after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'cp'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: CP_READY },
  );
  procs.push(cp);
  const server = cp.ready[1];
  const apply = async (name: string, yaml: string) => {
    const file = join(dir, name);
    await writeFile(file, yaml);
    const r = await runCli(['apply', '-f', file, '--server', server]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  await apply(
    'mesh.yaml',
    `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec: {defaultServiceExportTo: ['.']}
---
${orders('')}`,
  );
  const { admin } = await startSidecar(
    [server],
    ['--namespace', 'web', '--service', 'frontend', '--app-port', '1'],
    procs,
  );
  // Its own namespace's service arrives; the other namespace's does not.
  await eventuallyTrue('the web sidecar to get its own service', async () =>
    (await clusters(admin)).includes(FRONTEND),
  );
  assert.ok(!(await clusters(admin)).includes(ORDERS), 'orders is not exported to web');
  const route = await apply(
    'route.yaml',
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orders, namespace: web}
spec:
  hosts: [orders.shop.svc.cluster.local]
  http: [{route: [{destination: {host: orders.shop.svc.cluster.local}}]}]
`,
  );
  assert.match(route.stdout + route.stderr, /HostNotExported/);
  // The service's own exportTo wins over the mesh default.
  await apply('orders.yaml', orders("  exportTo: ['.', web]\n"));
  await eventuallyTrue('the web sidecar to get orders once it is exported to web', async () =>
    (await clusters(admin)).includes(ORDERS),
  );
});
