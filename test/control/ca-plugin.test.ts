// The plug-in CA: the user's own root or intermediate (made with openssl), validated and used to sign leaves.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import type { WeftError } from '../../src/errors.ts';
import { splitPemCertificates } from '../../src/identity/x509.ts';
import { makeCsr, makeOpensslCa, openssl, tempDir } from '../identity/fixtures.ts';

const id = { namespace: 'a', serviceAccount: 'x' };

function caInvalid(pattern: RegExp) {
  return (err: WeftError) => {
    assert.equal(err.code, 'WEFT_CA_INVALID');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('plug-in CA', () => {
  test('an intermediate with its chain signs leaves that openssl verifies up to the root', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    const ca = await CertificateAuthority.open({
      dataDir: join(dir, 'data'),
      plugin: { certFile: files.intermediateCert, keyFile: files.intermediateKey, chainFile: files.rootCert },
    });
    assert.equal(ca.info().mode, 'plugin');
    // The trust bundle is the chain's root, not the intermediate.
    const root = new X509Certificate(await readFile(files.rootCert, 'utf8'));
    const bundle = splitPemCertificates(ca.trustBundle());
    assert.equal(bundle.length, 1);
    assert.equal(new X509Certificate(bundle[0]).fingerprint256, root.fingerprint256);

    const issued = await ca.sign((await makeCsr()).csrPem, id);
    const chain = splitPemCertificates(issued.certificateChainPem);
    assert.equal(chain.length, 2, 'leaf + intermediate');
    assert.equal(
      new X509Certificate(chain[1]).fingerprint256,
      new X509Certificate(await readFile(files.intermediateCert, 'utf8')).fingerprint256,
    );
    await writeFile(join(dir, 'issued-leaf.pem'), chain[0]);
    await writeFile(join(dir, 'issued-untrusted.pem'), chain[1]);
    const ok = await openssl(
      ['verify', '-CAfile', 'root.pem', '-untrusted', 'issued-untrusted.pem', 'issued-leaf.pem'],
      dir,
    );
    assert.equal(ok.code, 0, ok.output);
    // Without the intermediate, the leaf does not verify against the root alone: the chain matters.
    const missing = await openssl(['verify', '-CAfile', 'root.pem', 'issued-leaf.pem'], dir);
    assert.notEqual(missing.code, 0, missing.output);
    // No leaf outlives the intermediate.
    assert.ok(issued.notAfter.getTime() <= new X509Certificate(chain[1]).validToDate.getTime());
  });

  test('a root given as --ca-cert needs no chain and is the trust bundle', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    const ca = await CertificateAuthority.open({
      dataDir: join(dir, 'data'),
      plugin: { certFile: files.rootCert, keyFile: files.rootKey },
    });
    assert.equal(ca.trustBundle().trim(), (await readFile(files.rootCert, 'utf8')).trim());
    const issued = await ca.sign((await makeCsr()).csrPem, id);
    assert.equal(splitPemCertificates(issued.certificateChainPem).length, 1);
    await writeFile(join(dir, 'issued.pem'), issued.certificateChainPem);
    const ok = await openssl(['verify', '-CAfile', 'root.pem', 'issued.pem'], dir);
    assert.equal(ok.code, 0, ok.output);
  });

  test('a key that is not the certificate’s is refused', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: { certFile: files.intermediateCert, keyFile: files.rootKey, chainFile: files.rootCert },
      }),
      caInvalid(/root\.key is not the private key of the certificate in .*intermediate\.pem/),
    );
  });

  test('a certificate that is not a CA is refused', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: { certFile: files.leafCert, keyFile: files.leafKey, chainFile: files.rootCert },
      }),
      caInvalid(/is not a CA certificate/),
    );
  });

  test('an intermediate without a chain to a root is refused', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: { certFile: files.intermediateCert, keyFile: files.intermediateKey },
      }),
      caInvalid(/no certificate in the chain issued/),
    );
    // A chain holding an unrelated root is no better.
    const other = await makeOpensslCa(await tempDir(t));
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: {
          certFile: files.intermediateCert,
          keyFile: files.intermediateKey,
          chainFile: other.rootCert,
        },
      }),
      caInvalid(/no certificate in the chain issued/),
    );
  });

  test('an expired CA is refused (seen from a clock two years ahead)', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: {
          certFile: files.intermediateCert,
          keyFile: files.intermediateKey,
          chainFile: files.rootCert,
        },
        now: () => Date.now() + 2 * 365 * 24 * 3_600_000,
      }),
      caInvalid(/CN=weft intermediate expired on/),
    );
  });

  test('unreadable or non-PEM files are refused with the flag and file named', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: { certFile: join(dir, 'missing.pem'), keyFile: files.rootKey },
      }),
      caInvalid(/--ca-cert .*missing\.pem: cannot read \(ENOENT\)/),
    );
    await assert.rejects(
      CertificateAuthority.open({
        dataDir: join(dir, 'data'),
        plugin: { certFile: files.rootCert, keyFile: files.rootCert },
      }),
      caInvalid(/root\.pem: not an unencrypted PEM private key/),
    );
  });
});
