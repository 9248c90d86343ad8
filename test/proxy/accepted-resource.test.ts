// The proxy keeps each accepted xDS resource encoded, as it came over the wire, and /config_dump decodes it again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDump } from '../../src/proxy/admin/admin-server.ts';
import { ProxyCore } from '../../src/proxy/proxy.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { encodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { decodeXdsResource } from '../../src/xds/wire/ads.ts';
import { wireStaticCluster } from './fixtures.ts';

const NAME = 'outbound|80||reviews.default.svc.cluster.local';
const CLUSTER = wireStaticCluster(NAME, 9080);

test('an accepted resource is kept as its own copy of the bytes it came in, and shown decoded', async () => {
  const bytes = encodeResource(TYPE_URL.cluster, CLUSTER);
  // The response the resource came in: the resource is a view of part of it.
  const response = Buffer.concat([Buffer.from('head'), bytes, Buffer.from('tail')]);
  const encoded = response.subarray(4, 4 + bytes.length);
  const body = camelize(decodeXdsResource(TYPE_URL.cluster, encoded)) as Record<string, unknown>;
  const core = new ProxyCore();
  try {
    await core.apply(TYPE_URL.cluster, [{ name: NAME, body, encoded }], '7', true);
    response.fill(0);
    const accepted = core.accepted.get(TYPE_URL.cluster)?.get(NAME);
    assert.ok(accepted, 'the cluster is remembered');
    assert.equal(accepted.version, '7');
    assert.deepEqual(accepted.body, body, 'decoded again from its own copy (the response was overwritten)');
    const dump = configDump(core, undefined) as {
      configs: { typeUrl: string; resources: { name: string; resource: unknown }[] }[];
    };
    const clusters = dump.configs.find((c) => c.typeUrl === TYPE_URL.cluster);
    assert.deepEqual(clusters?.resources, [{ name: NAME, versionInfo: '7', resource: body }]);
  } finally {
    core.destroy();
  }
});

test('a resource given decoded only (tests, a multi-core worker) is kept as given', async () => {
  const body = camelize(CLUSTER) as Record<string, unknown>;
  const core = new ProxyCore();
  try {
    await core.apply(TYPE_URL.cluster, [{ name: NAME, body }], '1', true);
    assert.equal(core.accepted.get(TYPE_URL.cluster)?.get(NAME)?.body, body);
  } finally {
    core.destroy();
  }
});
