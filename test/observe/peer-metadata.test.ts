// Peer metadata headers: round trip, and trust only for the principal mTLS verified.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNKNOWN_WORKLOAD } from '../../src/observe/istio-metrics.ts';
import { encodePeerMetadata, PeerMetadataDecoder } from '../../src/observe/peer-metadata.ts';

const PRODUCTPAGE = {
  ...UNKNOWN_WORKLOAD,
  workload: 'productpage',
  namespace: 'default',
  app: 'productpage',
  version: 'v1;odd',
  principal: 'spiffe://cluster.local/ns/default/sa/productpage',
};

test('a claim is trusted only with the principal the handshake verified', () => {
  const d = new PeerMetadataDecoder();
  const header = encodePeerMetadata(PRODUCTPAGE);
  const peer = d.trusted(header, PRODUCTPAGE.principal);
  assert.deepEqual(peer, PRODUCTPAGE);
  assert.equal(d.trusted(header, PRODUCTPAGE.principal), peer, 'one object per header value');
  assert.equal(d.trusted(header, undefined), undefined, 'no mTLS: not trusted');
  assert.equal(
    d.trusted(header, 'spiffe://cluster.local/ns/default/sa/other'),
    undefined,
    'another identity',
  );
  assert.equal(d.trusted('v1;garbage', PRODUCTPAGE.principal), undefined);
  assert.equal(d.trusted('v9;a;b;c;d;e;f', 'f'), undefined);
  assert.equal(d.trusted('v1;a;b;c;d;e;%E0%A4%A', '%E0%A4%A'), undefined, 'bad percent-encoding');
});
