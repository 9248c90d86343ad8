// The xDS server given as one name with several addresses (replicas behind DNS): expanded, and failed over between.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveServerAddresses, xdsAddressList } from '../../src/proxy/xds-client/server-addresses.ts';
import { createHosts } from '../helpers/netns.ts';

test('a name becomes every address it resolves to; IPs stay; duplicates go; IPv6 is bracketed', async () => {
  const resolve = async (name: string) => {
    if (name === 'cp.example') return ['10.0.0.1', 'fd00::2', '10.0.0.1'];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  assert.deepEqual(await resolveServerAddresses('cp.example:15010,10.0.0.9:15010', resolve), [
    '10.0.0.1:15010',
    '[fd00::2]:15010',
    '10.0.0.9:15010',
  ]);
  assert.deepEqual(await resolveServerAddresses('gone.example:1,[::1]:15010', resolve), ['[::1]:15010']);
  await assert.rejects(resolveServerAddresses('gone.example:1', resolve), /gone\.example: ENOTFOUND/);
});

test('one name with two addresses (the system resolver, /etc/hosts): the ADS client moves to the second when the first fails its streams', async (t) => {
  const net = await createHosts(1, { etcHosts: '127.0.0.1 xds.weft.test\n127.0.0.2 xds.weft.test\n' });
  if ('refused' in net) return t.skip(net.refused);
  try {
    const child = join(import.meta.dirname, '../helpers/xds-name-failover-child.ts');
    const r = await net.exec(net.hosts[0], process.execPath, [child], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.ok(result.failedOnFirst >= 1, `the first address was tried first: ${r.stdout}`);
    assert.equal(result.reached, true, `the second address was never reached: ${r.stdout}`);
  } finally {
    await net.remove();
  }
});

test('after the bootstrap: the announced xDS addresses first, then the API name with their ports', () => {
  assert.equal(xdsAddressList(['http://10.0.0.1:15080'], ['10.0.0.1:15010']), '10.0.0.1:15010');
  assert.equal(
    xdsAddressList(['http://cp.example:15080'], ['10.0.0.1:15010']),
    '10.0.0.1:15010,cp.example:15010',
  );
  assert.equal(
    xdsAddressList(['http://[::1]:15080', 'http://cp.example:15080'], ['[::1]:15010', '10.0.0.2:15010']),
    '[::1]:15010,10.0.0.2:15010,cp.example:15010',
  );
});
