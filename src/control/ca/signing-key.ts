// A CA's private key, imported from PEM (PKCS#8, SEC1 or PKCS#1) into WebCrypto for signing.
import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { CaInvalidError } from '../../errors.ts';
import type { CryptoKey } from '../../identity/x509.ts';

/** A private key ready to sign certificates, with the algorithm its signatures use. */
export interface SigningKey {
  /** The WebCrypto key (not extractable). */
  cryptoKey: CryptoKey;
  /** The signature algorithm for @peculiar/x509 (`ECDSA` + hash, or `RSASSA-PKCS1-v1_5`). */
  algorithm: { name: string; hash?: string };
  /** The key as a Node KeyObject (for matching it to a certificate). */
  keyObject: KeyObject;
}

const EC_CURVES: Readonly<Record<string, { namedCurve: string; hash: string }>> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** Imports a CA private key. `source` names the file in errors. Supports ECDSA P-256/384/521 and RSA ≥ 2048. */
export async function importSigningKey(pem: string, source: string): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CaInvalidError(
      `${source}: not an unencrypted PEM private key (${why}); weft reads PKCS#8, SEC1 or PKCS#1 keys without a passphrase`,
    );
  }
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[details.namedCurve ?? ''];
    if (!curve)
      throw new CaInvalidError(`${source}: EC curve ${details.namedCurve} is not supported (use P-256)`);
    const cryptoKey = await keyObject.toCryptoKey({ name: 'ECDSA', namedCurve: curve.namedCurve }, false, [
      'sign',
    ]);
    return { cryptoKey, algorithm: { name: 'ECDSA', hash: curve.hash }, keyObject };
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048)
      throw new CaInvalidError(
        `${source}: RSA key of ${details.modulusLength} bits is too short (need ≥ 2048)`,
      );
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const cryptoKey = await keyObject.toCryptoKey(algorithm, false, ['sign']);
    return { cryptoKey, algorithm, keyObject };
  }
  throw new CaInvalidError(
    `${source}: key type ${keyObject.asymmetricKeyType} is not supported for a CA (use ECDSA P-256 or RSA)`,
  );
}

/** Outcome of checking that a private key belongs to a certificate. */
export type KeyMatch = 'match' | 'mismatch';

/** Whether the private key is the one whose public half is in the certificate. */
export function keyMatchesCertificate(key: KeyObject, cert: X509Certificate): KeyMatch {
  const fromKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const fromCert = cert.publicKey.export({ format: 'der', type: 'spki' });
  return fromKey.equals(fromCert) ? 'match' : 'mismatch';
}
