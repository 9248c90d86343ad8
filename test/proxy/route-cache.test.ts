// The stream's route cache: one match per request, cleared when a filter changes what routes match on (jwt_authn).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { request } from '../helpers/http-client.ts';
import { coreWith, filterListener, vhost } from './fixtures.ts';
import { epoch, jwks, makeKey, sign } from './jwt-helpers.ts';

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const JWT = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
const ISSUER = 'https://issuer.example';
const KEY = makeKey('RS256');

let core: ProxyCore;
let port: number;

/** A route answering `status` itself, so the status says which route was chosen. */
function answer(status: number, match: Record<string, unknown>): Record<string, unknown> {
  return { match, directResponse: { status, body: { inlineString: String(status) } } };
}

const has = (name: string) => ({ name, presentMatch: true });

/** Two providers: `claims` writes claim and payload headers (paths /), `plain` only removes its token (/plain). */
function jwtConfig(): Record<string, unknown> {
  const keys = { inlineString: jwks(KEY) };
  const requires = (name: string) => ({
    requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] },
  });
  return {
    '@type': JWT,
    providers: {
      claims: {
        issuer: ISSUER,
        localJwks: keys,
        forwardPayloadHeader: 'x-jwt-payload',
        claimToHeaders: [{ headerName: 'x-user', claimName: 'sub' }],
      },
      plain: { issuer: ISSUER, localJwks: keys },
    },
    rules: [
      { match: { prefix: '/plain' }, requires: requires('plain') },
      { match: { prefix: '/' }, requires: requires('claims') },
    ],
  };
}

before(async () => {
  // The fault filter looks up its per-route config first: the route is matched (and cached)
  // before jwt_authn changes the headers.
  const listener = filterListener('routecache', [
    { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
    { name: 'envoy.filters.http.jwt_authn', typedConfig: jwtConfig() },
  ]);
  core = await coreWith({
    listeners: [listener],
    clusters: [],
    routes: [
      {
        name: 'routecache',
        virtualHosts: [
          vhost('svc', 80, [
            answer(250, { prefix: '/plain', headers: [has('authorization')] }),
            answer(251, { prefix: '/plain' }),
            answer(260, { prefix: '/', headers: [{ name: 'x-user', stringMatch: { exact: 'alice' } }] }),
            answer(261, { prefix: '/', headers: [has('x-jwt-payload')] }),
            answer(262, { prefix: '/', headers: [has('authorization')] }),
            answer(263, { prefix: '/' }),
          ]),
        ],
      },
    ],
  });
  port = core.listeners.get('routecache')!.port;
});

after(() => core?.destroy());

const token = (sub: string) => sign(KEY, { iss: ISSUER, sub, exp: epoch(600) });

async function routeOf(path: string, headers: Record<string, string>): Promise<number> {
  return (await request(port, { host: 'svc', path, headers, timeoutMs: 10_000 })).status;
}

describe('route cache cleared by jwt_authn (routes see the request as the filters left it)', () => {
  test('a claim header the filter adds chooses the route', async () => {
    assert.equal(await routeOf('/', { authorization: `Bearer ${token('alice')}` }), 260);
  });

  test('the forwarded payload header chooses the route', async () => {
    assert.equal(await routeOf('/', { authorization: `Bearer ${token('bob')}` }), 261);
  });

  test("the client's own claim and payload headers, removed by the filter, choose no route", async () => {
    assert.equal(await routeOf('/', { 'x-user': 'alice' }), 263);
    assert.equal(await routeOf('/', { 'x-jwt-payload': 'forged' }), 263);
  });

  test('a verified token the filter removes (forward: false) no longer matches', async () => {
    assert.equal(await routeOf('/plain', { authorization: `Bearer ${token('carol')}` }), 251);
    // Without a valid token nothing changes: the header stays and its route is chosen.
    assert.equal(await routeOf('/plain', { authorization: 'Basic x' }), 250);
  });
});
