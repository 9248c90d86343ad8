// End to end: restarting the control plane (file store) under a request loop through a header-routed subset drops nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startHttpEcho } from '../helpers/echo.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { startLoad } from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;
const RESTARTS = 10;

const ROUTE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-subset: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Number of sidecars the control plane at `server` has an ADS stream with. */
async function connectedProxies(server: string): Promise<number> {
  const res = await fetch(`${server}/api/v1/proxies`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { proxies: unknown[] };
  return body.proxies.length;
}

test(`${RESTARTS} control-plane restarts under load through a header-routed subset fail no request`, {
  timeout: 150_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-restart-'));
  const procs: WeftProcess[] = [];
  const echo = await startHttpEcho('reviews-v2');
  t.after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const api = `127.0.0.1:${await freePort()}`;
  const xds = `127.0.0.1:${await freePort()}`;
  const server = `http://${api}`;
  const startControlPlane = async () => {
    const cp = await startWeft(
      [
        'control-plane',
        '--data-dir',
        join(dir, 'data'),
        '--api',
        api,
        '--xds',
        xds,
        '--push-debounce',
        '20ms',
      ],
      { ready: CP_READY, timeoutMs: 30_000 },
    );
    procs.push(cp);
    return cp;
  };
  const sidecar = async (args: string[]) => {
    const proc = await startWeft(
      [
        'proxy',
        '--server',
        server,
        '--inbound-port',
        '0',
        '--outbound-port',
        '0',
        '--admin-port',
        '0',
        ...args,
      ],
      { ready: PROXY_READY, timeoutMs: 60_000 },
    );
    procs.push(proc);
    return proc;
  };

  let cp = await startControlPlane();
  const file = join(dir, 'route.yaml');
  await writeFile(file, ROUTE);
  const applied = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  const client = await sidecar(['--service', 'client', '--app-port', '1']);
  await sidecar(['--service', 'reviews', '--version', 'v2', '--app-port', String(echo.port)]);
  const out = Number(client.ready[1]);
  await eventuallyTrue('the v2 subset to answer through the client sidecar', async () => {
    const res = await request(out, { host: 'reviews', path: '/', headers: { 'x-subset': 'v2' } });
    if (res.status !== 200) throw new Error(`${res.status} ${res.body.toString().slice(0, 120)}`);
    return true;
  });

  const load = startLoad(out, { host: 'reviews', 'x-subset': 'v2' });
  try {
    for (let i = 0; i < RESTARTS; i++) {
      const before = load.ok();
      // Alternate a clean stop and a crash: neither may drop the endpoints proxies were given.
      const exit = await cp.stop(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      assert.ok(
        exit.code === 0 || exit.signal === 'SIGKILL',
        `restart ${i}: control plane exited with ${exit.code}`,
      );
      cp = await startControlPlane();
      await eventuallyTrue(
        `restart ${i}: both sidecars back on the control plane`,
        async () => (await connectedProxies(server)) === 2,
        20_000,
      );
      // Traffic flows after the proxies took the new control plane's configuration.
      await eventuallyTrue(`restart ${i}: requests still answered`, () => load.ok() > before + 5, 10_000);
    }
  } finally {
    const result = await load.stop();
    assert.deepEqual(
      result.failures,
      [],
      `${result.failures.length} of ${result.ok + result.failures.length} requests failed`,
    );
    assert.ok(result.ok > 0);
  }
});
