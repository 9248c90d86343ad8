// Responses joined from pre-encoded resource entries are byte for byte what encoding the whole message gives, nonce included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  adsService,
  encodeDiscoveryResponse,
  encodeResourceField,
  joinDiscoveryResponse,
  withNonce,
} from '../../src/xds/discovery.ts';
import { encodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

const anys = ['a', 'b', 'c'].map((name) => ({
  type_url: TYPE_URL.cluster,
  value: encodeResource(TYPE_URL.cluster, { name, connect_timeout: { seconds: 1 } }),
}));

test('a response joined from encoded entries equals the encoded response', () => {
  for (const resources of [anys, anys.slice(1), []]) {
    const joined = joinDiscoveryResponse('v1', TYPE_URL.cluster, resources.map(encodeResourceField));
    const whole = encodeDiscoveryResponse({ version_info: 'v1', resources, type_url: TYPE_URL.cluster });
    assert.deepEqual(joined, whole);
  }
});

test('a joined response decodes to its version, resources, type and nonce', () => {
  const body = joinDiscoveryResponse('v7', TYPE_URL.cluster, anys.map(encodeResourceField));
  const decoded = adsService.StreamAggregatedResources.responseDeserialize(withNonce(body, '42'));
  assert.equal(decoded.version_info, 'v7');
  assert.equal(decoded.type_url, TYPE_URL.cluster);
  assert.equal(decoded.nonce, '42');
  assert.deepEqual(
    decoded.resources.map((r) => r.value),
    anys.map((a) => a.value),
  );
});
