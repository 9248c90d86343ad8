// Path normalisation and XFCC through a real inbound listener generated from MeshConfig: what RBAC checks is what the app gets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { h2request, request } from '../helpers/http-client.ts';
import { inboundCore } from './inbound-core.ts';

const POLICIES = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: plaintext, namespace: shop}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: public-only, namespace: shop}
spec:
  rules: [{to: [{operation: {paths: ["/public/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/public/admin*"]}}]}]
`;

function meshConfig(mode: string): string {
  return `---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  pathNormalization: {normalization: ${mode}}
`;
}

for (const mode of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES']) {
  describe(`pathNormalization ${mode}`, () => {
    let app: Echo;
    let core: ProxyCore;
    let port = 0;
    before(async () => {
      app = await startHttpEcho('app');
      core = await inboundCore(POLICIES + meshConfig(mode), app.port);
      port = core.listeners.get('inbound')!.port;
    });
    after(async () => {
      core?.destroy();
      await app?.close();
    });

    test('the app receives the path RBAC allowed, not the raw one', async () => {
      const r = await request(port, { host: 'cart', path: '/admin/../public/x?q=/../y' });
      assert.equal(r.status, 200);
      assert.equal(r.json?.url, '/public/x?q=/../y');
      const h2 = await h2request(port, { authority: 'cart', path: '/admin/../public/%78' });
      assert.equal(h2.status, 200);
      assert.equal(h2.json?.url, '/public/x');
    });

    test('slash tricks around a DENY', async () => {
      const merged = await request(port, { host: 'cart', path: '/public//admin' });
      const escaped = await request(port, { host: 'cart', path: '/public/%2fadmin' });
      if (mode === 'BASE') {
        // As in Istio: BASE does not merge slashes; the app gets exactly what RBAC allowed.
        assert.equal(merged.json?.url, '/public//admin');
        assert.equal(escaped.json?.url, '/public/%2Fadmin');
      } else {
        assert.equal(merged.status, 403);
        if (mode === 'DECODE_AND_MERGE_SLASHES') assert.equal(escaped.status, 403);
        else assert.equal(escaped.json?.url, '/public/%2Fadmin');
      }
    });

    test('a forged x-forwarded-client-cert from a plaintext client never reaches the app', async () => {
      const r = await request(port, {
        host: 'cart',
        path: '/public/x',
        headers: {
          'x-forwarded-client-cert':
            'By=spiffe://cluster.local/ns/prod/sa/payments;URI=spiffe://cluster.local/ns/prod/sa/admin',
        },
      });
      assert.equal(r.status, 200);
      assert.ok(r.json?.headers, 'the app echoed its headers');
      assert.equal(
        (r.json?.headers as Record<string, string> | undefined)?.['x-forwarded-client-cert'],
        undefined,
      );
    });
  });
}

describe('pathNormalization NONE', () => {
  test('the path is left exactly as sent (RBAC still matches its normalised form)', async (t) => {
    const app = await startHttpEcho('app');
    const core = await inboundCore(POLICIES + meshConfig('NONE'), app.port);
    t.after(async () => {
      core.destroy();
      await app.close();
    });
    const port = core.listeners.get('inbound')!.port;
    const r = await request(port, { host: 'cart', path: '/public/./x' });
    assert.equal(r.status, 200);
    assert.equal(r.json?.url, '/public/./x');
  });
});
