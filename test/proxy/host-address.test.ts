// The address a sidecar registers: loopback for a control plane on this host, else the route's source address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostOf, reachableAddress } from '../../src/proxy/common/host-address.ts';

test('hostOf reads host:port and [v6]:port', () => {
  assert.equal(hostOf('10.0.0.1:15010'), '10.0.0.1');
  assert.equal(hostOf('[fd00::1]:15010'), 'fd00::1');
  assert.equal(hostOf('cp.example:15010'), 'cp.example');
});

test('a control plane on loopback makes a one-host mesh: the endpoint is 127.0.0.1', async () => {
  assert.equal(await reachableAddress('127.0.0.1:15010'), '127.0.0.1');
  assert.equal(await reachableAddress('localhost:15010'), '127.0.0.1');
  assert.equal(await reachableAddress('[::1]:15010'), '127.0.0.1');
});
