// The workload CSR written with node:crypto and the DER writer: openssl verifies it, the CA signs it, tampering is caught.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { createCsrDer } from '../../src/identity/csr.ts';
import { derObjectIdentifier, derSequence, derTlv } from '../../src/identity/der.ts';
import { derToPem, splitPemCertificates } from '../../src/identity/pem.ts';
import { generateWorkloadKey } from '../../src/identity/workload-key.ts';
import { openssl, tempDir } from './fixtures.ts';

describe('DER writer', () => {
  test('uses the long length form from 128 bytes on', () => {
    assert.deepEqual([...derTlv(0x04, Buffer.alloc(127)).subarray(0, 2)], [0x04, 127]);
    assert.deepEqual([...derTlv(0x04, Buffer.alloc(128)).subarray(0, 3)], [0x04, 0x81, 128]);
    assert.deepEqual([...derTlv(0x04, Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
    assert.equal(derTlv(0x04, Buffer.alloc(300)).length, 304);
  });

  test('encodes object identifiers in base 128', () => {
    // ecdsa-with-SHA256 as every X.509 library writes it.
    assert.equal(derObjectIdentifier('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
    assert.throws(() => derObjectIdentifier('1'), RangeError);
    assert.equal(derSequence().toString('hex'), '3000');
  });
});

describe('workload CSR', () => {
  test('openssl verifies its self-signature and reads a P-256 key with ecdsa-with-SHA256', async (t) => {
    const dir = await tempDir(t, 'weft-csr-');
    const { keyPem, csrPem } = await generateWorkloadKey();
    const file = join(dir, 'req.pem');
    await writeFile(file, csrPem);
    const r = await openssl(['req', '-in', file, '-verify', '-noout', '-text']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /verify OK/);
    assert.match(r.output, /prime256v1|P-256/);
    assert.match(r.output, /ecdsa-with-SHA256/);
    // The request's public key is the private key's.
    const pub = await openssl(['req', '-in', file, '-noout', '-pubkey']);
    const expected = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }) as string;
    assert.equal(pub.output.trim(), expected.trim());
  });

  test('a request whose signed part was changed does not verify', async (t) => {
    const dir = await tempDir(t, 'weft-csr-');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = createCsrDer(privateKey);
    // Flip one bit of the public key point (inside CertificationRequestInfo).
    const point = der.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])); // BIT STRING of the uncompressed point
    assert.ok(point > 0);
    const tampered = Buffer.from(der);
    tampered[point + 10] ^= 0x01;
    const file = join(dir, 'bad.pem');
    await writeFile(file, derToPem('CERTIFICATE REQUEST', tampered));
    const r = await openssl(['req', '-in', file, '-verify', '-noout']);
    assert.ok(r.code !== 0 && !/verify OK/.test(r.output), r.output);
  });

  test('rejects a key that is not EC', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    assert.throws(() => createCsrDer(privateKey), TypeError);
  });

  test("the mesh CA signs it with the token's identity", async (t) => {
    const ca = await CertificateAuthority.open({ dataDir: await tempDir(t) });
    const { keyPem, csrPem } = await generateWorkloadKey();
    const issued = await ca.sign(csrPem, { namespace: 'shop', serviceAccount: 'cart' });
    const leaf = new X509Certificate(splitPemCertificates(issued.certificateChainPem)[0]);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)));
  });
});
