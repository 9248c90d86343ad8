// The zero-set-up CA: an ECDSA P-256 self-signed root generated on first start and kept in `<data-dir>/ca/`.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaInvalidError } from '../../errors.ts';
import { type CryptoKeyPair, P256, subtle, x509 } from '../../identity/x509.ts';
import { logger } from '../../observe/log.ts';
import {
  assertKeyMatches,
  assertUsableCa,
  type CaMaterial,
  isSelfSigned,
  parseCertificate,
} from './ca-material.ts';
import {
  ensurePrivateDir,
  fileExists,
  nonOwnerBits,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  writeFileAtomic,
} from './files.ts';
import { importSigningKey } from './signing-key.ts';

/** File names inside `<data-dir>/ca/`. */
export const ROOT_CERT_FILE = 'root-cert.pem';
export const ROOT_KEY_FILE = 'root-key.pem';

/** Lifetime of a generated root: 10 years. */
export const ROOT_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;
/** Backdating of notBefore on everything weft signs, for clock skew between hosts. */
export const CLOCK_SKEW_MS = 60_000;

/** A random positive serial number of 128 bits, hex. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  if (bytes[0] === 0) bytes[0] = 1; // keep all 16 bytes significant
  return bytes.toString('hex');
}

/**
 * Loads the root from `caDir`, or generates and stores one when there is none. The key is
 * written first and the certificate second, so a certificate on disk always has its key; a key
 * without a certificate (a crash mid-creation, before anything was signed) is replaced.
 */
export async function loadOrCreateRoot(
  caDir: string,
  options: { trustDomain: string; now: number },
): Promise<CaMaterial & { created: boolean }> {
  const log = logger({ component: 'ca' });
  const certPath = join(caDir, ROOT_CERT_FILE);
  const keyPath = join(caDir, ROOT_KEY_FILE);
  await ensurePrivateDir(caDir);
  let created = false;
  if (!(await fileExists(certPath))) {
    await generateRoot(certPath, keyPath, options);
    created = true;
    log.info({ cert: certPath }, 'generated a new ECDSA P-256 root CA');
  }
  if (!(await fileExists(keyPath)))
    throw new CaInvalidError(
      `${keyPath} is missing but ${certPath} exists; restore the key, or remove ${caDir} to start a new root (every workload must then get new certificates)`,
    );
  const loose = await nonOwnerBits(keyPath);
  if (loose !== 0)
    log.warn(
      { key: keyPath, mode: loose.toString(8) },
      'CA key file is readable by others than its owner; chmod 600 it',
    );
  const certPem = await readFile(certPath, 'utf8');
  const cert = parseCertificate(certPem, certPath);
  const signingKey = await importSigningKey(await readFile(keyPath, 'utf8'), keyPath);
  assertKeyMatches(signingKey, cert, keyPath, certPath);
  assertUsableCa(cert, certPath, options.now);
  if (!isSelfSigned(cert)) throw new CaInvalidError(`${certPath}: the generated root must be self-signed`);
  return {
    mode: 'generated',
    signingCert: cert,
    signingKey,
    chainPem: [],
    rootsPem: [cert.toString()],
    notAfter: cert.validToDate,
    files: { cert: certPath, key: keyPath },
    created,
  };
}

async function generateRoot(
  certPath: string,
  keyPath: string,
  options: { trustDomain: string; now: number },
): Promise<void> {
  const keys = (await subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: ['weft root CA'] }, { O: [options.trustDomain] }],
    notBefore: new Date(options.now - CLOCK_SKEW_MS),
    notAfter: new Date(options.now + ROOT_VALIDITY_MS),
    keys,
    signingAlgorithm: P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  await writeFileAtomic(keyPath, keyPem, PRIVATE_FILE_MODE);
  await writeFileAtomic(certPath, cert.toString('pem') + '\n', PUBLIC_FILE_MODE);
}
