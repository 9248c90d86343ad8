// The generated-root CA: persisted with owner-only modes, reloaded with the same key, and signing only granted identities.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { ROOT_CERT_FILE, ROOT_KEY_FILE } from '../../src/control/ca/generated-root.ts';
import type { WeftError } from '../../src/errors.ts';
import { splitPemCertificates, x509 } from '../../src/identity/x509.ts';
import { makeCsr, openssl, tempDir } from '../identity/fixtures.ts';

const HOUR = 3_600_000;
const isCode = (code: string) => (err: WeftError) => err.code === code;

async function leafOf(chainPem: string): Promise<{ node: X509Certificate; parsed: x509.X509Certificate }> {
  const pem = splitPemCertificates(chainPem)[0];
  return { node: new X509Certificate(pem), parsed: new x509.X509Certificate(pem) };
}

describe('generated root', () => {
  test('is created on first start with owner-only modes and reloaded with the same key', async (t) => {
    const dataDir = await tempDir(t);
    const first = await CertificateAuthority.open({ dataDir });
    const caDir = join(dataDir, 'ca');
    assert.equal((await stat(caDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(caDir, ROOT_KEY_FILE))).mode & 0o777, 0o600);
    const keyBefore = await readFile(join(caDir, ROOT_KEY_FILE), 'utf8');
    const root = new X509Certificate(await readFile(join(caDir, ROOT_CERT_FILE), 'utf8'));
    assert.equal(root.ca, true);
    assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const years = (root.validToDate.getTime() - root.validFromDate.getTime()) / (365 * 24 * HOUR);
    assert.ok(years > 9.9 && years < 10.1, `root lifetime ${years} years`);

    const second = await CertificateAuthority.open({ dataDir });
    assert.equal(second.trustBundle(), first.trustBundle());
    assert.equal(await readFile(join(caDir, ROOT_KEY_FILE), 'utf8'), keyBefore);
    // A leaf signed after the restart verifies against the root from before it.
    const issued = await second.sign((await makeCsr()).csrPem, { namespace: 'a', serviceAccount: 'x' });
    const { node } = await leafOf(issued.certificateChainPem);
    assert.ok(node.verify(root.publicKey));
    assert.ok(node.checkIssued(root));
  });

  test('openssl verifies an issued leaf against the trust bundle', async (t) => {
    const dataDir = await tempDir(t);
    const ca = await CertificateAuthority.open({ dataDir });
    const issued = await ca.sign((await makeCsr()).csrPem, { namespace: 'a', serviceAccount: 'x' });
    await writeFile(join(dataDir, 'leaf.pem'), issued.certificateChainPem);
    await writeFile(join(dataDir, 'bundle.pem'), ca.trustBundle());
    const result = await openssl(
      ['verify', '-CAfile', 'bundle.pem', '-purpose', 'sslserver', 'leaf.pem'],
      dataDir,
    );
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /leaf.pem: OK/);
    const client = await openssl(
      ['verify', '-CAfile', 'bundle.pem', '-purpose', 'sslclient', 'leaf.pem'],
      dataDir,
    );
    assert.equal(client.code, 0, client.output);
  });

  test('a certificate without its key is refused with a message naming the file', async (t) => {
    const dataDir = await tempDir(t);
    await CertificateAuthority.open({ dataDir });
    await writeFile(join(dataDir, 'ca', ROOT_KEY_FILE), (await makeCsr()).keyPem);
    await assert.rejects(CertificateAuthority.open({ dataDir }), (err: WeftError) => {
      assert.equal(err.code, 'WEFT_CA_INVALID');
      assert.match(err.message, /root-key\.pem is not the private key/);
      return true;
    });
  });
});

describe('signing', () => {
  test('issues exactly the granted SPIFFE ID whatever the CSR asks for', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const csr = await makeCsr({
      subject: 'CN=admin, O=system:masters',
      uris: ['spiffe://cluster.local/ns/a/sa/y', 'spiffe://evil.example/ns/kube-system/sa/admin'],
      dns: ['reviews.default.svc.cluster.local'],
    });
    const before = Date.now();
    const issued = await ca.sign(csr.csrPem, { namespace: 'a', serviceAccount: 'x' });
    const { node, parsed } = await leafOf(issued.certificateChainPem);
    assert.equal(issued.spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
    assert.equal(node.subjectAltName, 'URI:spiffe://cluster.local/ns/a/sa/x');
    assert.equal(node.subject, undefined, 'subject must be empty');
    assert.equal(node.ca, false);
    assert.ok(node.checkPrivateKey((await import('node:crypto')).createPrivateKey(csr.keyPem)));

    const san = parsed.getExtension(x509.SubjectAlternativeNameExtension)!;
    assert.equal(san.critical, true);
    const usage = parsed.getExtension(x509.KeyUsagesExtension)!;
    assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension)!;
    assert.deepEqual(
      [...eku.usages].sort(),
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth].sort(),
    );

    // notBefore is back-dated one minute; notAfter is now + 24 h (second precision in X.509).
    assert.ok(Math.abs(node.validFromDate.getTime() - (before - 60_000)) < 5_000);
    assert.ok(Math.abs(node.validToDate.getTime() - (before + 24 * HOUR)) < 5_000);
    assert.equal(node.serialNumber.length, 32, `serial ${node.serialNumber} is 128 bits`);
  });

  test('serial numbers are random', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const { csrPem } = await makeCsr();
    const a = await ca.sign(csrPem, { namespace: 'a', serviceAccount: 'x' });
    const b = await ca.sign(csrPem, { namespace: 'a', serviceAccount: 'x' });
    assert.notEqual(a.serialNumber, b.serialNumber);
  });

  test('lifetime: requested ttl honoured, out-of-range refused, capped at the CA expiry', async (t) => {
    const dataDir = await tempDir(t);
    const ca = await CertificateAuthority.open({ dataDir, defaultTtlMs: HOUR });
    const { csrPem } = await makeCsr();
    const id = { namespace: 'a', serviceAccount: 'x' };
    const hourly = await ca.sign(csrPem, id);
    assert.ok(Math.abs(hourly.notAfter.getTime() - Date.now() - HOUR) < 5_000);
    const short = await ca.sign(csrPem, id, 30_000);
    assert.ok(Math.abs(short.notAfter.getTime() - Date.now() - 30_000) < 5_000);
    await assert.rejects(ca.sign(csrPem, id, 5_000), isCode('WEFT_BAD_REQUEST'));
    await assert.rejects(ca.sign(csrPem, id, 91 * 24 * HOUR), isCode('WEFT_BAD_REQUEST'));

    // The same root, opened by a clock one hour before the root expires: a 24 h leaf is cut short.
    const rootExpiry = new X509Certificate(ca.trustBundle()).validToDate.getTime();
    const late = await CertificateAuthority.open({ dataDir, now: () => rootExpiry - HOUR });
    const capped = await late.sign(csrPem, id, 24 * HOUR);
    assert.equal(capped.notAfter.getTime(), rootExpiry);
  });

  test('accepts P-256 and RSA-2048 CSRs, refuses other keys', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const id = { namespace: 'a', serviceAccount: 'x' };
    await ca.sign((await makeCsr({ key: 'rsa2048' })).csrPem, id);
    await assert.rejects(ca.sign((await makeCsr({ key: 'p384' })).csrPem, id), /secp384r1 is not accepted/);
    await assert.rejects(
      ca.sign((await makeCsr({ key: 'rsa1024' })).csrPem, id),
      /1024 bits is not accepted/,
    );
  });

  test('a CSR that is garbage, truncated or has a broken signature is a 400', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const id = { namespace: 'a', serviceAccount: 'x' };
    const { csrPem } = await makeCsr();
    await assert.rejects(ca.sign('hello', id), isCode('WEFT_BAD_REQUEST'));
    await assert.rejects(ca.sign(csrPem.slice(0, 200), id), isCode('WEFT_BAD_REQUEST'));
    await assert.rejects(ca.sign('x'.repeat(100_000), id), isCode('WEFT_BAD_REQUEST'));
    // Flip one bit in the signature (last bytes of the DER).
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3] ^= 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(tampered, id), /signature does not verify/);
  });

  test('an invalid identity or trust domain is refused', async (t) => {
    const dataDir = await tempDir(t);
    const ca = await CertificateAuthority.open({ dataDir });
    const { csrPem } = await makeCsr();
    await assert.rejects(
      ca.sign(csrPem, { namespace: 'a/../b', serviceAccount: 'x' }),
      isCode('WEFT_BAD_REQUEST'),
    );
    await assert.rejects(
      CertificateAuthority.open({ dataDir, trustDomain: 'Bad Domain' }),
      isCode('WEFT_BAD_REQUEST'),
    );
  });

  test('uses the configured trust domain', async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t), trustDomain: 'example.org' });
    const issued = await ca.sign((await makeCsr()).csrPem, { namespace: 'prod', serviceAccount: 'api' });
    assert.equal(issued.spiffeId, 'spiffe://example.org/ns/prod/sa/api');
  });
});
