// --store etcd://... and the --etcd-* TLS flags: parsed into endpoints, prefix and files, or refused with WEFT_USAGE.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEtcdStore } from '../../src/control/store/etcd-config.ts';
import { UsageError } from '../../src/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/etcd-cluster.ts';

test('one or several members, an optional prefix, plain or TLS', () => {
  assert.deepEqual(parseEtcdStore('etcd://10.0.0.1:2379'), {
    endpoints: ['http://10.0.0.1:2379'],
    prefix: '/weft',
  });
  const tls = parseEtcdStore('etcd://a.example:2379,b.example:2379/mesh/prod/?cacert=/ca.pem', {
    etcdCert: '/c.pem',
    etcdKey: '/k.pem',
  });
  assert.deepEqual(tls, {
    endpoints: ['https://a.example:2379', 'https://b.example:2379'],
    prefix: '/mesh/prod',
    caFile: '/ca.pem',
    certFile: '/c.pem',
    keyFile: '/k.pem',
  });
});

test('malformed stores and half-given TLS settings are usage errors', () => {
  for (const bad of ['file:///x', 'etcd://', 'etcd://host', 'etcd://h:99999', 'etcd://h:1?token=x'])
    assert.throws(() => parseEtcdStore(bad), UsageError, bad);
  assert.throws(() => parseEtcdStore('etcd://h:1', { etcdCert: '/c.pem' }), /go together/);
  assert.throws(() => parseEtcdStore('etcd://h:1', { etcdCert: '/c', etcdKey: '/k' }), /needs --etcd-cacert/);
});

test('weft control-plane --store with a bad value exits 1 naming the fix', async () => {
  const r = await runCli([
    'control-plane',
    '--store',
    'etcd://nohost',
    '--api',
    '127.0.0.1:0',
    '--xds',
    '127.0.0.1:0',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--store "etcd:\/\/nohost".*is not HOST:PORT/);
  const tls = await runCli(['control-plane', '--etcd-cacert', '/ca.pem', '--api', '127.0.0.1:0']);
  assert.equal(tls.code, 1);
  assert.match(tls.stderr, /need --store etcd/);
});

test('weft control-plane on an etcd that does not answer exits 1 saying so, within its bound', async (t) => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'weft-etcd-down-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await runCli(
    [
      'control-plane',
      '--store',
      `etcd://127.0.0.1:${port}`,
      '--data-dir',
      dir,
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`cannot reach etcd at http://127.0.0.1:${port} .*\\[WEFT_STORE_UNAVAILABLE\\]`),
  );
});
