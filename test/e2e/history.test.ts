// End to end: `weft history` and `weft rollback` on both stores, across a control-plane restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;

const route = (subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: ${subset}}}]}]
`;

for (const store of ['file', 'etcd'] as const)
  test(`history and rollback (${store} store), kept across a restart`, { timeout: 60_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-history-'));
    let cp: WeftProcess | undefined;
    let etcd: EtcdCluster | undefined;
    t.after(async () => {
      await cp?.stop('SIGKILL');
      await etcd?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    if (store === 'etcd') etcd = await startEtcdCluster(1);
    const start = async () => {
      cp = await startWeft(
        [
          'control-plane',
          '--data-dir',
          join(dir, 'data'),
          '--api',
          '127.0.0.1:0',
          '--xds',
          '127.0.0.1:0',
          ...(etcd ? ['--store', etcd.storeUrl] : []),
        ],
        { ready: CP_READY },
      );
      return cp.ready[1];
    };
    let server = await start();
    const file = join(dir, 'vs.yaml');
    for (const subset of ['v1', 'v2']) {
      await writeFile(file, route(subset));
      const applied = await runCli(['apply', '-f', file, '--server', server]);
      assert.equal(applied.code, 0, applied.stderr);
    }
    await cp!.stop('SIGTERM');
    server = await start();

    const history = await runCli(['history', 'vs', 'reviews', '--server', server]);
    assert.equal(history.code, 0, history.stderr);
    const rows = history.stdout.trim().split('\n');
    assert.match(rows[0], /^REVISION\s+CHANGE\s+GENERATION\s+AGE$/);
    assert.match(rows[1], /^1\s+created\s+1\s+\d+s$/);
    assert.match(rows[2], /^2\s+configured\s+2\s+\d+s$/);
    assert.equal(rows.length, 3);

    const rolled = await runCli(['rollback', 'virtualservice', 'reviews', '--to', '1', '--server', server]);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.equal(
      rolled.stdout,
      'virtualservice/reviews rolled back to revision 1: configured (now revision 3)\n',
    );
    const got = await runCli(['get', 'vs', 'reviews', '-o', 'json', '--server', server]);
    const stored = JSON.parse(got.stdout);
    assert.equal(stored.spec.http[0].route[0].destination.subset, 'v1');
    assert.equal(stored.metadata.generation, 3);

    const json = await runCli(['history', 'vs', 'reviews', '-o', 'json', '--server', server]);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { revision: number }[]).map((e) => e.revision),
      [1, 2, 3],
    );
    const missing = await runCli(['rollback', 'vs', 'reviews', '--to', '7', '--server', server]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no stored version at revision 7; it has 1, 2, 3/);
    if (store === 'etcd') {
      // 70 resources need 141 operations in one transaction, over etcd's default --max-txn-ops=128.
      const many = Array.from(
        { length: 70 },
        (_, i) =>
          `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr-${i}}\nspec: {host: dr-${i}}\n`,
      ).join('---\n');
      await writeFile(file, many);
      const refused = await runCli(['apply', '-f', file, '--server', server]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /etcd refused an apply of 70 resources in one transaction.*--max-txn-ops/);
      const none = await runCli(['get', 'dr', '--server', server]);
      assert.match(none.stderr, /No resources found/, 'nothing of the refused apply was stored');
    }
    const unknown = await runCli(['history', 'vs', 'nothing', '--server', server]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no history for VirtualService default\/nothing/);
  });
