// The CA's API handlers: identity from the token only, 401 for bad tokens, 400 for bad CSRs, operator-only minting.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { CaApi, type CaApiRequest } from '../../src/control/ca/api.ts';
import { BootstrapTokens } from '../../src/control/ca/bootstrap-token.ts';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { OperatorToken } from '../../src/control/ca/operator-token.ts';
import type { WeftError } from '../../src/errors.ts';
import type { CertificateResponse, TokenResponse } from '../../src/identity/ca-api-types.ts';
import { splitPemCertificates } from '../../src/identity/x509.ts';
import { makeCsr, tempDir } from '../identity/fixtures.ts';

async function setup(t: Parameters<typeof tempDir>[0], now?: () => number) {
  const dataDir = await tempDir(t);
  const ca = await CertificateAuthority.open({ dataDir });
  const tokens = await BootstrapTokens.open(dataDir, now);
  const operatorToken = await OperatorToken.open(dataDir);
  return { api: new CaApi({ ca, tokens, operatorToken }), ca, tokens, operatorToken };
}

function request(body: unknown, token?: string, remoteAddress = '10.0.0.7'): CaApiRequest {
  return {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    remoteAddress,
    readJson: async () => body,
  };
}

const code = (expected: string, status: number) => (err: WeftError) => {
  assert.equal(err.code, expected);
  assert.equal(err.status, status);
  return true;
};

describe('POST /api/v1/certificates', () => {
  test('signs the CSR for the token’s identity; the SANs the CSR asks for are ignored', async (t) => {
    const { api, tokens } = await setup(t);
    const token = tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token;
    const { csrPem } = await makeCsr({ uris: ['spiffe://cluster.local/ns/a/sa/y'] });
    const res = await api.issueCertificate(request({ csr: csrPem, ttl: '1h' }, token));
    assert.equal(res.status, 200);
    const body = res.body as CertificateResponse;
    assert.equal(body.spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
    const leaf = new X509Certificate(splitPemCertificates(body.certificateChain)[0]);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/a/sa/x');
    assert.ok(Math.abs(Date.parse(body.expiresAt) - Date.now() - 3_600_000) < 5_000);
    assert.ok(leaf.verify(new X509Certificate(body.trustBundle).publicKey));
  });

  test('a token for sa=x cannot get sa=y, whatever the body says', async (t) => {
    const { api, tokens } = await setup(t);
    const token = tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token;
    const { csrPem } = await makeCsr({ uris: ['spiffe://cluster.local/ns/a/sa/y'] });
    const res = await api.issueCertificate(
      request(
        { csr: csrPem, serviceAccount: 'y', namespace: 'a', spiffeId: 'spiffe://cluster.local/ns/a/sa/y' },
        token,
      ),
    );
    assert.equal((res.body as CertificateResponse).spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
  });

  test('missing, tampered, foreign and expired tokens are 401', async (t) => {
    let now = Date.now();
    const { api, tokens } = await setup(t, () => now);
    const other = await setup(t);
    const { csrPem } = await makeCsr();
    const good = tokens.mint({ namespace: 'a', serviceAccount: 'x' }, 60_000).token;
    const [payload, mac] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, sa: 'y' })).toString('base64url')}.${mac}`;
    const foreign = other.tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token;
    const unauthorized = code('WEFT_UNAUTHORIZED', 401);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem })), unauthorized);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem }, 'garbage')), unauthorized);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem }, tampered)), unauthorized);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem }, foreign)), unauthorized);
    assert.equal((await api.issueCertificate(request({ csr: csrPem }, good))).status, 200);
    now += 120_000;
    await assert.rejects(api.issueCertificate(request({ csr: csrPem }, good)), (err: WeftError) => {
      assert.equal(err.status, 401);
      assert.match(err.message, /expired/);
      return true;
    });
  });

  test('a bad body, CSR or ttl is 400 (after the token is checked)', async (t) => {
    const { api, tokens } = await setup(t);
    const token = tokens.mint({ namespace: 'a', serviceAccount: 'x' }).token;
    const { csrPem } = await makeCsr();
    const bad = code('WEFT_BAD_REQUEST', 400);
    await assert.rejects(api.issueCertificate(request('not an object', token)), bad);
    await assert.rejects(api.issueCertificate(request({}, token)), bad);
    await assert.rejects(api.issueCertificate(request({ csr: 'nope' }, token)), bad);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem, ttl: 'soon' }, token)), bad);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem, ttl: '1s' }, token)), bad);
    await assert.rejects(api.issueCertificate(request({ csr: csrPem, ttl: 3600 }, token)), bad);
    // Without a token, a bad CSR is still a 401: nothing is parsed for an unauthenticated caller.
    await assert.rejects(api.issueCertificate(request({ csr: 'nope' })), code('WEFT_UNAUTHORIZED', 401));
  });
});

describe('GET /api/v1/trust-bundle', () => {
  test('is the PEM of the root', async (t) => {
    const { api, ca } = await setup(t);
    const res = api.trustBundle();
    assert.equal(res.contentType, 'application/x-pem-file');
    assert.equal(res.body, ca.trustBundle());
    assert.equal(new X509Certificate(res.body as string).ca, true);
    assert.doesNotMatch(res.body as string, /PRIVATE KEY/);
  });
});

describe('POST /api/v1/tokens', () => {
  test('mints from loopback without the operator token; the token then gets a certificate', async (t) => {
    const { api } = await setup(t);
    const res = await api.createToken(
      request({ namespace: 'shop', serviceAccount: 'cart', ttl: '1h' }, undefined, '127.0.0.1'),
    );
    const body = res.body as TokenResponse;
    assert.equal(body.spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.ok(Math.abs(Date.parse(body.expiresAt) - Date.now() - 3_600_000) < 5_000);
    const cert = await api.issueCertificate(request({ csr: (await makeCsr()).csrPem }, body.token));
    assert.equal((cert.body as CertificateResponse).spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
  });

  test('from another host it needs the operator token', async (t) => {
    const { api, operatorToken } = await setup(t);
    const secret = (await readFile(operatorToken.path, 'utf8')).trim();
    const body = { namespace: 'shop', serviceAccount: 'cart' };
    await assert.rejects(api.createToken(request(body, undefined, '10.0.0.7')), /needs the operator token/);
    await assert.rejects(api.createToken(request(body, 'wrong', '10.0.0.7')), code('WEFT_UNAUTHORIZED', 401));
    // A bootstrap token is not an operator token.
    const { tokens } = await setup(t);
    await assert.rejects(
      api.createToken(request(body, tokens.mint({ namespace: 'a', serviceAccount: 'b' }).token, '10.0.0.7')),
      code('WEFT_UNAUTHORIZED', 401),
    );
    const res = await api.createToken(request(body, secret, '10.0.0.7'));
    assert.equal(res.status, 200);
  });

  test('invalid identities and lifetimes are 400', async (t) => {
    const { api } = await setup(t);
    const bad = code('WEFT_BAD_REQUEST', 400);
    await assert.rejects(api.createToken(request({ namespace: 'a' }, undefined, '127.0.0.1')), bad);
    await assert.rejects(
      api.createToken(request({ namespace: 'a/b', serviceAccount: 'x' }, undefined, '127.0.0.1')),
      bad,
    );
    await assert.rejects(
      api.createToken(
        request({ namespace: 'a', serviceAccount: 'x', ttl: 'forever' }, undefined, '127.0.0.1'),
      ),
      bad,
    );
  });
});
