// `weft proxyless`'s files: certificates swapped through one symlink, old generations removed, and the bootstrap naming what the generators expect.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GRPC_SERVER_LISTENER_PREFIX } from '../../src/control/xds/generate/grpc-server.ts';
import { GRPC_CERT_PROVIDER } from '../../src/control/xds/generate/grpc-tls.ts';
import type { IdentitySnapshot } from '../../src/identity/workload-identity.ts';
import { CertificateFiles, grpcBootstrap, PROVIDER_INSTANCE } from '../../src/run/proxyless-files.ts';

function identity(n: number): IdentitySnapshot {
  return {
    certChainPem: `chain ${n}\n`,
    keyPem: `key ${n}\n`,
    trustBundlePem: `roots ${n}\n`,
    spiffeId: 'spiffe://cluster.local/ns/default/sa/greeter',
    notBefore: new Date(0),
    notAfter: new Date(0),
    serialNumber: String(n),
  };
}

test('each certificate replaces the last through `current` (the directory is created); two generations are kept, files are private', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-proxyless-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = new CertificateFiles(join(dir, 'not-yet'));
  for (const n of [1, 2, 3]) {
    await files.write(identity(n));
    assert.equal(await readFile(files.paths.certificate, 'utf8'), `chain ${n}\n`);
    assert.equal(await readFile(files.paths.key, 'utf8'), `key ${n}\n`);
    assert.equal(await readFile(files.paths.ca, 'utf8'), `roots ${n}\n`);
  }
  const generations = (await readdir(files.dir)).filter((f) => f.startsWith('.gen-'));
  assert.equal(generations.length, 2);
  assert.ok(generations.includes(await readlink(join(files.dir, 'current'))));
  assert.equal((await stat(files.paths.key)).mode & 0o777, 0o600);
});

test('the bootstrap defines the provider instance and server template weft generates for', () => {
  const files = {
    certificate: '/d/current/cert-chain.pem',
    key: '/d/current/key.pem',
    ca: '/d/current/root-cert.pem',
  };
  const bootstrap = grpcBootstrap({
    xdsAddress: '127.0.0.1:15010',
    nodeId: 'proxyless~default~greeter~h-1',
    namespace: 'default',
    serviceAccount: 'greeter',
    labels: { app: 'greeter' },
    files,
    refreshIntervalMs: 1500,
  }) as Record<string, unknown>;
  assert.equal(PROVIDER_INSTANCE, GRPC_CERT_PROVIDER);
  assert.deepEqual(bootstrap.certificate_providers, {
    [GRPC_CERT_PROVIDER]: {
      plugin_name: 'file_watcher',
      config: {
        certificate_file: files.certificate,
        private_key_file: files.key,
        ca_certificate_file: files.ca,
        refresh_interval: '2s',
      },
    },
  });
  assert.equal(bootstrap.server_listener_resource_name_template, `${GRPC_SERVER_LISTENER_PREFIX}%s`);
  assert.deepEqual(bootstrap.node, {
    id: 'proxyless~default~greeter~h-1',
    locality: {},
    metadata: { NAMESPACE: 'default', SERVICE_ACCOUNT: 'greeter', LABELS: { app: 'greeter' } },
  });
});
