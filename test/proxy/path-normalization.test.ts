// Envoy's HCM path normalisation (Istio's meshConfig.pathNormalization modes) and XFCC, as pure functions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compilePathNormalization,
  NO_NORMALIZATION,
  normalizeRequestPath,
  type PathNormalizationConfig,
} from '../../src/proxy/http/path-normalization.ts';
import { type ClientCertFacts, compileXfcc, xfccValue } from '../../src/proxy/http/xfcc.ts';

const BASE: PathNormalizationConfig = {
  normalizePath: true,
  mergeSlashes: false,
  escapedSlashes: 'KEEP_UNCHANGED',
};
const MERGE: PathNormalizationConfig = { ...BASE, mergeSlashes: true };
const DECODE: PathNormalizationConfig = { ...MERGE, escapedSlashes: 'UNESCAPE_AND_FORWARD' };

function path(p: string, c: PathNormalizationConfig): string {
  const r = normalizeRequestPath(p, c);
  return r.kind === 'path' ? r.path : r.kind;
}

test('the four Istio modes, as Istio documents them', () => {
  assert.equal(path('/a/../b', NO_NORMALIZATION), '/a/../b');
  assert.equal(path('/a/../b', BASE), '/b');
  assert.equal(path('/admin/../public/x?q=/../', BASE), '/public/x?q=/../', 'the query is left alone');
  assert.equal(path('/%61dmin/./x', BASE), '/admin/x');
  assert.equal(path('/x\\..\\admin', BASE), '/admin', 'a backslash is a slash');
  assert.equal(path('/a//b', BASE), '/a//b');
  assert.equal(path('/a//b', MERGE), '/a/b');
  assert.equal(path('/a%2f/b', MERGE), '/a%2F/b');
  assert.equal(path('/a%2f/b', DECODE), '/a/b');
  assert.equal(path('/x%2F..%2Fadmin', DECODE), '/admin');
  assert.equal(path('/x%2f', { ...BASE, escapedSlashes: 'REJECT_REQUEST' }), 'reject');
  assert.deepEqual(normalizeRequestPath('/a%2Fb', { ...BASE, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), {
    kind: 'redirect',
    path: '/a/b',
  });
});

test('HCM fields compile; unknown actions are refused', () => {
  assert.deepEqual(
    compilePathNormalization(
      {
        normalizePath: { value: true },
        mergeSlashes: true,
        pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD',
      },
      'hcm',
    ),
    DECODE,
  );
  assert.deepEqual(compilePathNormalization({}, 'hcm'), NO_NORMALIZATION);
  assert.throws(
    () => compilePathNormalization({ pathWithEscapedSlashesAction: 'NOPE' }, 'hcm'),
    /hcm\.path_with_escaped_slashes_action/,
  );
});

const PEER: ClientCertFacts = {
  localUri: 'spiffe://cluster.local/ns/shop/sa/cart',
  hash: 'ab12',
  subject: '',
  uris: ['spiffe://cluster.local/ns/shop/sa/web'],
  dns: [],
};

test('XFCC: sanitised from plaintext, appended from the verified peer on mTLS, never forged', () => {
  const append = compileXfcc(
    {
      forwardClientCertDetails: 'APPEND_FORWARD',
      setCurrentClientCertDetails: { subject: { value: true }, uri: true, dns: true },
    },
    'hcm',
  );
  const forged = 'By=spiffe://cluster.local/ns/prod/sa/payments;URI=spiffe://cluster.local/ns/prod/sa/admin';
  assert.equal(xfccValue(forged, append, undefined), undefined, 'plaintext: removed');
  assert.equal(
    xfccValue(undefined, append, PEER),
    'By=spiffe://cluster.local/ns/shop/sa/cart;Hash=ab12;Subject="";URI=spiffe://cluster.local/ns/shop/sa/web',
  );
  assert.match(String(xfccValue('By=x', append, PEER)), /^By=x,By=spiffe/);
  const sanitize = compileXfcc({}, 'hcm');
  assert.equal(xfccValue(forged, sanitize, PEER), undefined);
  const set = compileXfcc(
    { forwardClientCertDetails: 'SANITIZE_SET', setCurrentClientCertDetails: { uri: true } },
    'hcm',
  );
  assert.equal(
    xfccValue(forged, set, PEER),
    'By=spiffe://cluster.local/ns/shop/sa/cart;Hash=ab12;URI=spiffe://cluster.local/ns/shop/sa/web',
  );
  // The element is kept per connection's facts, for the config it was built with (an LDS update brings another).
  assert.match(String(xfccValue(undefined, append, PEER)), /Subject=""/);
  assert.doesNotMatch(String(xfccValue(undefined, set, PEER)), /Subject/);
  assert.throws(() => compileXfcc({ setCurrentClientCertDetails: { cert: true } }, 'hcm'), /cert/);
});
