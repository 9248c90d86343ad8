// End to end: replicas on an etcd member that serves TLS and asks for client certificates (openssl-made), set by flags and by URL parameters.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ClusterStatus } from '../../src/control/ha/cluster-status.ts';
import { runCli } from '../helpers/cli.ts';
import { type EtcdCluster, startEtcdCluster } from '../helpers/etcd-cluster.ts';
import { makeCertificates, makeClientCertificate } from '../helpers/openssl-certs.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const CP_READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+) xds/;

test('client-certificate TLS to etcd: --etcd-cacert/--etcd-cert/--etcd-key and ?cacert=&cert=&key=', {
  timeout: 60_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-etcd-tls-'));
  const procs: WeftProcess[] = [];
  let etcd: EtcdCluster | undefined;
  t.after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const server = makeCertificates(dir, 'etcd', ['localhost']);
  const client = makeClientCertificate(dir, 'etcd', 'weft-control-plane');
  etcd = await startEtcdCluster(1, { tls: { ...server, clientCert: client.cert, clientKey: client.key } });
  const replica = async (name: string, store: string, flags: string[]) => {
    const cp = await startWeft(
      [
        'control-plane',
        '--store',
        store,
        ...flags,
        '--data-dir',
        join(dir, name),
        '--api',
        '127.0.0.1:0',
        '--xds',
        '127.0.0.1:0',
      ],
      { ready: CP_READY },
    );
    procs.push(cp);
    return cp.ready[1];
  };
  const byFlags = await replica('a', etcd.storeUrl, [
    '--etcd-cacert',
    server.ca,
    '--etcd-cert',
    client.cert,
    '--etcd-key',
    client.key,
  ]);
  const byUrl = await replica(
    'b',
    `${etcd.storeUrl}/weft?cacert=${server.ca}&cert=${client.cert}&key=${client.key}`,
    [],
  );

  const file = join(dir, 'dr.yaml');
  await writeFile(
    file,
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings}\nspec: {host: ratings}\n',
  );
  const applied = await runCli(['apply', '-f', file, '--server', byFlags]);
  assert.equal(applied.code, 0, applied.stderr);
  const got = await runCli(['get', 'dr', 'ratings', '-o', 'json', '--server', byUrl]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(JSON.parse(got.stdout).metadata.resourceVersion, '1');

  const status = (await (await fetch(`${byUrl}/api/v1/cluster`)).json()) as ClusterStatus;
  assert.deepEqual(status.etcd?.endpoints, [`https://${etcd.storeUrl.slice('etcd://'.length)}`]);
  assert.equal(status.etcd?.members[0]?.healthy, true, JSON.stringify(status.etcd));
});
