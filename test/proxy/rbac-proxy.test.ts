// The generated inbound listener with jwt_authn and RBAC filters, run by a real ProxyCore on real sockets (HTTP/1.1 and h2c).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rbacStats } from '../../src/proxy/http/filters/rbac/rbac-stats.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { h2request, request } from '../helpers/http-client.ts';
import { inboundCore } from './inbound-core.ts';
import { epoch, jwks, makeKey, sign } from './jwt-helpers.ts';

const ISSUER = 'https://auth.example';
const key = makeKey('RS256');

describe('inbound policy enforcement in a real proxy', () => {
  let app: Echo;
  let jwksServer: http.Server;
  let core: ProxyCore;
  let port = 0;
  let jwksFetches = 0;

  before(async () => {
    app = await startHttpEcho('app');
    jwksServer = http.createServer((_req, res) => {
      jwksFetches++;
      // Slow enough that the first request really waits for the keys.
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks(key)), 50);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const policies = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  jwtRules:
  - issuer: ${ISSUER}
    jwksUri: ${jwksUri}
    outputClaimToHeaders: [{header: x-user, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reads, namespace: shop}
spec:
  rules: [{to: [{operation: {methods: [GET, HEAD]}}]}]
---
# The requests below are plaintext (this core has no workload identity); policies on mTLS
# traffic are tested with real sidecars in test/e2e/security.test.ts.
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: plaintext, namespace: shop}
spec: {mtls: {mode: DISABLE}}
`;
    core = await inboundCore(policies, app.port);
    port = core.listeners.get('inbound')!.port;
  });

  after(async () => {
    core?.destroy();
    await app?.close();
    jwksServer?.closeAllConnections();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  const token = (extra: Record<string, unknown> = {}) =>
    sign(key, { iss: ISSUER, sub: 'alice', exp: epoch(300), ...extra });

  test('a valid token waits for the remote keys once, then reaches the app without the token', async () => {
    const first = await request(port, {
      host: 'cart',
      path: '/items',
      headers: { authorization: `Bearer ${token()}` },
    });
    assert.equal(first.status, 200, first.body.toString());
    const seen = first.json?.headers as Record<string, string>;
    assert.equal(seen['x-user'], 'alice');
    assert.equal(seen.authorization, undefined);
    const second = await request(port, {
      host: 'cart',
      path: '/items',
      headers: { authorization: `Bearer ${token()}` },
    });
    assert.equal(second.status, 200);
    assert.equal(jwksFetches, 1, 'keys were cached');
  });

  test('an expired token is 401 with a Bearer challenge; a request without a token passes', async () => {
    const expired = await request(port, {
      host: 'cart',
      path: '/items',
      headers: { authorization: `Bearer ${token({ exp: epoch(-3600) })}` },
    });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.toString(), 'Jwt is expired');
    assert.match(
      String(expired.headers['www-authenticate']),
      /^Bearer realm="http:\/\/cart\/items", error="invalid_token"$/,
    );
    assert.equal((await request(port, { host: 'cart', path: '/items' })).status, 200);
  });

  test('DENY before ALLOW; anything the ALLOW policy does not allow is 403 and counted', async () => {
    const denied = rbacStats('', core).denied;
    const admin = await request(port, { host: 'cart', path: '/admin/users' });
    assert.deepEqual([admin.status, admin.body.toString()], [403, 'RBAC: access denied']);
    const dodge = await request(port, { host: 'cart', path: '/public/../admin' });
    assert.equal(dodge.status, 403);
    const post = await request(port, { host: 'cart', path: '/items', method: 'POST', body: 'x' });
    assert.equal(post.status, 403);
    assert.equal(rbacStats('', core).denied, denied + 3);
  });

  test('the same decisions over h2c', async () => {
    assert.equal((await h2request(port, { authority: 'cart', path: '/items' })).status, 200);
    assert.equal((await h2request(port, { authority: 'cart', path: '/admin' })).status, 403);
    const withToken = await h2request(port, {
      authority: 'cart',
      path: '/items',
      headers: { authorization: `Bearer ${token({ sub: 'bob' })}` },
    });
    assert.equal(withToken.status, 200);
    assert.equal((withToken.json?.headers as Record<string, string> | undefined)?.['x-user'], 'bob');
    const forged = await h2request(port, {
      authority: 'cart',
      path: '/items',
      headers: { authorization: `Bearer ${token()}x` },
    });
    assert.equal(forged.status, 401);
  });
});
