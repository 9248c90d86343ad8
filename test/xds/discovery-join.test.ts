// Responses joined from pre-encoded resource entries equal encoding the whole message (nonce included); requests keep their names as received bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  adsService,
  decodeDiscoveryRequest,
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

test('a joined response with its nonce is the response without it, then the nonce field', () => {
  const body = joinDiscoveryResponse('v7', TYPE_URL.cluster, anys.map(encodeResourceField));
  const bytes = joinDiscoveryResponse('v7', TYPE_URL.cluster, anys.map(encodeResourceField), '42');
  assert.deepEqual(bytes, withNonce(body, '42'));
});

test('a request keeps its names as received bytes and decodes them when read', () => {
  const ads = adsService.StreamAggregatedResources;
  const request = {
    version_info: 'v1',
    node: { id: 'sidecar~1' },
    resource_names: ['outbound|80||a.default.svc.cluster.local', 'outbound|80||b.default.svc.cluster.local'],
    type_url: TYPE_URL.endpoint,
    response_nonce: '3',
  };
  const decoded = ads.requestDeserialize(ads.requestSerialize(request));
  assert.equal(decoded.version_info, 'v1');
  assert.equal(decoded.node?.id, 'sidecar~1');
  assert.equal(decoded.type_url, TYPE_URL.endpoint);
  assert.equal(decoded.response_nonce, '3');
  assert.deepEqual(decoded.resource_names, request.resource_names);
  const same = ads.requestDeserialize(ads.requestSerialize({ ...request, response_nonce: '4' }));
  assert.ok(
    same.resource_names_bytes?.equals(decoded.resource_names_bytes!),
    'the same names, the same bytes',
  );
  const other = ads.requestDeserialize(
    ads.requestSerialize({ ...request, resource_names: request.resource_names.slice(1) }),
  );
  assert.ok(!other.resource_names_bytes?.equals(decoded.resource_names_bytes!));
  const none = ads.requestDeserialize(ads.requestSerialize({ ...request, resource_names: [] }));
  assert.deepEqual(none.resource_names, []);
  assert.equal(none.resource_names_bytes, undefined);
});

test('a request repeating a known names run keeps that very Buffer; other runs are decoded as usual', () => {
  const ads = adsService.StreamAggregatedResources;
  const names = Array.from({ length: 50 }, (_, i) => `outbound|80||s${i}.default.svc.cluster.local`);
  const first = decodeDiscoveryRequest(
    ads.requestSerialize({ type_url: TYPE_URL.endpoint, resource_names: names }),
  );
  const known = Buffer.from(first.resource_names_bytes!);
  const ack = ads.requestSerialize({
    type_url: TYPE_URL.endpoint,
    version_info: 'v2',
    response_nonce: '9',
    resource_names: names,
  });
  const decoded = decodeDiscoveryRequest(ack, [undefined, Buffer.from('other'), known]);
  assert.equal(decoded.resource_names_bytes, known, 'the known run itself, not a copy');
  assert.equal(decoded.version_info, 'v2');
  assert.equal(decoded.response_nonce, '9');
  assert.deepEqual(decoded.resource_names, names);
  // A longer list starting with the known run is not that run.
  const longer = decodeDiscoveryRequest(
    ads.requestSerialize({ type_url: TYPE_URL.endpoint, resource_names: [...names, 'extra'] }),
    [known],
  );
  assert.notEqual(longer.resource_names_bytes, known);
  assert.deepEqual(longer.resource_names, [...names, 'extra']);
  // Names split around another field (any order is valid protobuf) are all read.
  const split = Buffer.concat([
    ads.requestSerialize({ resource_names: names.slice(0, 2) }),
    ads.requestSerialize({ type_url: TYPE_URL.endpoint }),
    ads.requestSerialize({ resource_names: names.slice(2) }),
  ]);
  const parts = decodeDiscoveryRequest(split, [known]);
  assert.deepEqual(parts.resource_names, names);
  assert.ok(parts.resource_names_bytes?.equals(known));
  assert.equal(parts.type_url, TYPE_URL.endpoint);
});
