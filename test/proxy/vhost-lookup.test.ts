// Virtual host lookup by authority: exact (any case, with a port), wildcard and default hosts, repeated and alternating.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findVirtualHost } from '../../src/proxy/http/router/route-match.ts';
import { compileRouteTable } from '../../src/proxy/http/router/route-table.ts';

const table = compileRouteTable({
  name: 'r',
  virtualHosts: [
    { name: 'a', domains: ['a.example', 'a.example:80'], routes: [] },
    { name: 'sub', domains: ['*.b.example'], routes: [] },
    { name: 'default', domains: ['*'], routes: [] },
  ],
});

const lookup = (authority: string) => findVirtualHost(table, authority)?.name;

test('each authority finds its virtual host, repeated or alternating', () => {
  const cases: [string, string][] = [
    ['a.example', 'a'],
    ['a.example', 'a'],
    ['x.b.example', 'sub'],
    ['A.Example', 'a'],
    ['a.example:80', 'a'],
    ['other', 'default'],
    ['a.example', 'a'],
    ['', 'default'],
    ['x.b.example', 'sub'],
  ];
  for (const [authority, vhost] of cases) assert.equal(lookup(authority), vhost, authority);
});

test('a table without a default answers undefined for an unknown authority, also when asked twice', () => {
  const strict = compileRouteTable({
    name: 's',
    virtualHosts: [{ name: 'a', domains: ['a.example'], routes: [] }],
  });
  assert.equal(findVirtualHost(strict, 'b.example'), undefined);
  assert.equal(findVirtualHost(strict, 'b.example'), undefined);
  assert.equal(findVirtualHost(strict, 'a.example')?.name, 'a');
});
