// SPIFFE IDs: parse, format, validate, and read from certificates the way Node reports them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WeftError } from '../../src/errors.ts';
import {
  checkServerSpiffeId,
  formatSpiffeId,
  parseSpiffeId,
  parseSubjectAltNames,
  spiffeIdOfCertificate,
  tryParseSpiffeId,
} from '../../src/identity/spiffe.ts';

describe('SPIFFE IDs', () => {
  test('format and parse round-trip', () => {
    const id = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' };
    const uri = formatSpiffeId(id);
    assert.equal(uri, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.deepEqual(parseSpiffeId(uri), id);
  });

  test('rejects what is not an Istio-shaped SPIFFE ID', () => {
    for (const bad of [
      'https://cluster.local/ns/a/sa/b',
      'spiffe://cluster.local/ns/a',
      'spiffe://cluster.local/ns/a/sa/b/extra',
      'spiffe://cluster.local/sa/b/ns/a',
      'spiffe:///ns/a/sa/b',
      'spiffe://Cluster.Local/ns/a/sa/b',
      'spiffe://cluster.local/ns/../sa/b',
      'spiffe://cluster.local/ns/a b/sa/b',
      'spiffe://cluster.local/ns/a/sa/',
      `spiffe://cluster.local/ns/${'a'.repeat(300)}/sa/b`,
    ])
      assert.equal(tryParseSpiffeId(bad), undefined, bad);
    assert.throws(
      () => parseSpiffeId('nope'),
      (err: WeftError) => err.code === 'WEFT_BAD_REQUEST',
    );
  });

  test('format refuses invalid parts with a message naming them', () => {
    assert.throws(
      () => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'a/b', serviceAccount: 'x' }),
      /namespace "a\/b"/,
    );
    assert.throws(
      () => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'a', serviceAccount: '..' }),
      /service account/,
    );
  });
});

describe('certificates', () => {
  test('splits Node SAN strings, including quoted values', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:10.0.0.1'), [
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://td/ns/a/sa/b' },
      { type: 'IP Address', value: '10.0.0.1' },
    ]);
    assert.deepEqual(parseSubjectAltNames('URI:"spiffe://td/ns/a,b/sa/c", DNS:x'), [
      { type: 'URI', value: 'spiffe://td/ns/a,b/sa/c' },
      { type: 'DNS', value: 'x' },
    ]);
  });

  test('reads the one URI SAN of a peer certificate or X509Certificate', () => {
    assert.equal(
      spiffeIdOfCertificate({ subjectaltname: 'URI:spiffe://cluster.local/ns/a/sa/x' }),
      'spiffe://cluster.local/ns/a/sa/x',
    );
    assert.equal(
      spiffeIdOfCertificate({ subjectAltName: 'DNS:h, URI:spiffe://cluster.local/ns/a/sa/x' }),
      'spiffe://cluster.local/ns/a/sa/x',
    );
  });

  test('a certificate with no, several or non-SPIFFE URI SANs has no identity', () => {
    assert.equal(spiffeIdOfCertificate(undefined), undefined);
    assert.equal(spiffeIdOfCertificate({ subjectaltname: 'DNS:h' }), undefined);
    assert.equal(spiffeIdOfCertificate({ subjectaltname: 'URI:https://example.com/' }), undefined);
    assert.equal(
      spiffeIdOfCertificate({
        subjectaltname: 'URI:spiffe://cluster.local/ns/a/sa/x, URI:spiffe://cluster.local/ns/a/sa/y',
      }),
      undefined,
    );
  });

  test('checkServerSpiffeId accepts only the expected identities', () => {
    const check = checkServerSpiffeId(['spiffe://cluster.local/ns/a/sa/x']);
    const cert = (san: string) => ({ subjectaltname: san }) as Parameters<typeof check>[1];
    assert.equal(check('ignored', cert('URI:spiffe://cluster.local/ns/a/sa/x')), undefined);
    assert.match(String(check('ignored', cert('URI:spiffe://cluster.local/ns/a/sa/y'))), /not one expected/);
    assert.match(String(check('ignored', cert('DNS:x'))), /no SPIFFE ID/);
  });
});
