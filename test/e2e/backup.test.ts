// End to end: `weft backup` of a file-store control plane, `weft restore` into one on etcd (a migration), in batches etcd accepts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;

test('backup from the file store, restore into etcd: every resource, spec and labels', {
  timeout: 60_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-backup-'));
  const procs: WeftProcess[] = [];
  let etcd: EtcdCluster | undefined;
  t.after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (name: string, extra: string[]) => {
    const cp = await startWeft(
      [
        'control-plane',
        '--data-dir',
        join(dir, name),
        '--api',
        '127.0.0.1:0',
        '--xds',
        '127.0.0.1:0',
        ...extra,
      ],
      { ready: CP_READY },
    );
    procs.push(cp);
    return cp.ready[1];
  };
  etcd = await startEtcdCluster(1);
  const [source, target] = await Promise.all([start('file', []), start('etcd', ['--store', etcd.storeUrl])]);
  // More than one etcd transaction takes (63 resources with etcd's defaults).
  const docs = Array.from(
    { length: 70 },
    (_, i) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr-${i}, namespace: ns-${i % 3}, labels: {team: t${i}}}\nspec: {host: dr-${i}}\n`,
  );
  const input = join(dir, 'input.yaml');
  await writeFile(input, docs.join('---\n'));
  assert.equal((await runCli(['apply', '-f', input, '--server', source])).code, 0);

  const file = join(dir, 'backup.yaml');
  const backup = await runCli(['backup', '-o', file, '--server', source]);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stderr, /wrote 70 resources \(revision 1\)/);
  const text = await readFile(file, 'utf8');
  assert.doesNotMatch(text, /resourceVersion|creationTimestamp/, 'store metadata is left out');

  const restored = await runCli(['restore', '-f', file, '--server', target]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(
    restored.stdout,
    `restored 70 resources from ${file}: 70 created, 0 configured, 0 unchanged\n`,
  );
  const got = await runCli(['get', 'dr', 'dr-68', '-n', 'ns-2', '-o', 'json', '--server', target]);
  assert.equal(got.code, 0, got.stderr);
  const dr = JSON.parse(got.stdout);
  assert.deepEqual([dr.spec.host, dr.metadata.labels.team], ['dr-68', 't68']);
  const all = await runCli(['get', 'dr', '-A', '--server', target]);
  assert.equal(all.stdout.trim().split('\n').length, 71);

  const again = await runCli(['restore', '-f', file, '--server', target]);
  assert.equal(again.stdout, `restored 70 resources from ${file}: 0 created, 0 configured, 70 unchanged\n`);
});
