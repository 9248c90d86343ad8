// Every upstream TLS config of a proxy core with the same settings uses one SecureContext, until a secret rotates.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import type { CommonTlsConfig } from '../../src/proxy/tls/tls-config.ts';
import { TlsContextSource } from '../../src/proxy/tls/tls-context.ts';
import { makeCertificates } from '../helpers/openssl-certs.ts';

/** A CA-signed certificate and its key (PEM), made by openssl. */
function certificate(prefix: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ctx-'));
  try {
    const files = makeCertificates(dir, prefix, ['localhost']);
    return { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A mesh cluster's TLS settings: the workload certificate and the mesh roots, by SDS name. */
function meshTls(extra: Partial<CommonTlsConfig> = {}): CommonTlsConfig {
  return {
    certificate: { kind: 'sds', name: 'default' },
    validation: { trust: { kind: 'sds', name: 'ROOTCA' }, sanMatchers: [] },
    alpn: ['istio'],
    ...extra,
  } as CommonTlsConfig;
}

test('clusters with the same TLS settings share one context; other settings or a rotation make another', () => {
  const store = new SecretStore();
  const first = certificate('first');
  store.set('default', { kind: 'tls_certificate', certChainPem: first.cert, privateKeyPem: first.key });
  store.set('ROOTCA', { kind: 'validation_context', trustedCaPem: first.cert });
  const reviews = new TlsContextSource(meshTls(), store, 'Cluster reviews');
  const ratings = new TlsContextSource(meshTls({ alpn: ['h2'] }), store, 'Cluster ratings');
  const legacy = new TlsContextSource(meshTls({ maxVersion: 'TLSv1.2' }), store, 'Cluster legacy');
  assert.equal(reviews.context(), ratings.context(), 'ALPN is per connection, not per context');
  assert.notEqual(reviews.context(), legacy.context(), 'other TLS versions: a context of their own');
  const before = reviews.context();
  const rotated = certificate('rotated');
  store.set('default', { kind: 'tls_certificate', certChainPem: rotated.cert, privateKeyPem: rotated.key });
  assert.notEqual(reviews.context(), before, 'the rotated certificate gets a new context');
  assert.equal(reviews.context(), ratings.context(), 'shared again after the rotation');
});
