// Every upstream TLS config of a proxy core with the same settings uses one SecureContext, until a secret rotates.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import type { CommonTlsConfig } from '../../src/proxy/tls/tls-config.ts';
import { TlsContextSource } from '../../src/proxy/tls/tls-context.ts';

/** A self-signed certificate and its key (PEM), made by openssl. */
function selfSigned(name: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ctx-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        `/CN=${name}`,
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
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
  const first = selfSigned('workload');
  store.set('default', { kind: 'tls_certificate', certChainPem: first.cert, privateKeyPem: first.key });
  store.set('ROOTCA', { kind: 'validation_context', trustedCaPem: first.cert });
  const reviews = new TlsContextSource(meshTls(), store, 'Cluster reviews');
  const ratings = new TlsContextSource(meshTls({ alpn: ['h2'] }), store, 'Cluster ratings');
  const legacy = new TlsContextSource(meshTls({ maxVersion: 'TLSv1.2' }), store, 'Cluster legacy');
  assert.equal(reviews.context(), ratings.context(), 'ALPN is per connection, not per context');
  assert.notEqual(reviews.context(), legacy.context(), 'other TLS versions: a context of their own');
  const before = reviews.context();
  const rotated = selfSigned('workload');
  store.set('default', { kind: 'tls_certificate', certChainPem: rotated.cert, privateKeyPem: rotated.key });
  assert.notEqual(reviews.context(), before, 'the rotated certificate gets a new context');
  assert.equal(reviews.context(), ratings.context(), 'shared again after the rotation');
});
