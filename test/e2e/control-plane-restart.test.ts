// End to end: restarting the control plane (file store, then etcd) under a request loop through a header-routed subset drops nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startHttpEcho } from '../helpers/echo.ts';
import { type EtcdCluster, freePort, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';
import {
  connectedProxies,
  HEADER_ROUTE,
  startLoad,
  startSidecar,
  waitForSubset,
} from '../helpers/mesh-load.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;
const RESTARTS = 10;

for (const store of ['file', 'etcd'] as const)
  test(`${RESTARTS} control-plane restarts (${store} store) under load through a header-routed subset fail no request`, {
    timeout: 150_000,
  }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-restart-'));
    const procs: WeftProcess[] = [];
    const echo = await startHttpEcho('reviews-v2');
    let etcd: EtcdCluster | undefined;
    t.after(async () => {
      for (const p of procs) await p.stop('SIGKILL');
      await etcd?.stop();
      await echo.close();
      await rm(dir, { recursive: true, force: true });
    });
    if (store === 'etcd') etcd = await startEtcdCluster(1);
    const storeArgs = etcd ? ['--store', etcd.storeUrl, '--etcd-lease-ttl', '2s'] : [];
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
          ...storeArgs,
        ],
        { ready: CP_READY, timeoutMs: 30_000 },
      );
      procs.push(cp);
      return cp;
    };

    let cp = await startControlPlane();
    const file = join(dir, 'route.yaml');
    await writeFile(file, HEADER_ROUTE);
    const applied = await runCli(['apply', '-f', file, '--server', server]);
    assert.equal(applied.code, 0, applied.stderr);
    const { out } = await startSidecar([server], ['--service', 'client', '--app-port', '1'], procs);
    await startSidecar(
      [server],
      ['--service', 'reviews', '--version', 'v2', '--app-port', String(echo.port)],
      procs,
    );
    await waitForSubset(out, 'the v2 subset to answer through the client sidecar');

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
