// What a CA signs with: its certificate and key, the chain up to the root, and the trust bundle.
import { X509Certificate } from 'node:crypto';
import { CaInvalidError } from '../../errors.ts';
import { x509 } from '../../identity/x509.ts';
import { keyMatchesCertificate, type SigningKey } from './signing-key.ts';

/** Where the CA's certificate and key come from. */
export type CaMode = 'generated' | 'plugin';

/** A loaded, validated CA. */
export interface CaMaterial {
  mode: CaMode;
  /** The certificate that signs workload certificates (the generated root, or the user's CA). */
  signingCert: X509Certificate;
  /** Its private key; never leaves the control plane. */
  signingKey: SigningKey;
  /** Certificates sent after each leaf: the signing cert and intermediates up to, not including, the root. */
  chainPem: readonly string[];
  /** The trust bundle: root certificates, PEM. */
  rootsPem: readonly string[];
  /** The earliest expiry on the path signing cert → root; no leaf outlives it. */
  notAfter: Date;
  /** Files the material was read from, for messages and `weft check`. */
  files: { cert: string; key: string; chain?: string };
}

/** A certificate's subject on one line (`CN=weft root CA, O=cluster.local`), for messages. */
export function subjectOf(cert: X509Certificate): string {
  return cert.subject ? cert.subject.split('\n').join(', ') : '(empty subject)';
}

/** Whether a certificate is self-issued and self-signed (a root). */
export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** Whether `child` was issued and signed by `parent`. */
export function isIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Parses one PEM certificate, naming the file in the error. */
export function parseCertificate(pem: string, source: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CaInvalidError(`${source}: not a PEM X.509 certificate (${why})`);
  }
}

/**
 * Throws CaInvalidError unless `cert` may sign certificates now: basicConstraints CA:true, key usage
 * (when present) includes keyCertSign, and the validity window contains `now`.
 */
export function assertUsableCa(cert: X509Certificate, source: string, now: number): void {
  if (!cert.ca)
    throw new CaInvalidError(
      `${source}: ${subjectOf(cert)} is not a CA certificate (basicConstraints CA:false)`,
    );
  const parsed = new x509.X509Certificate(cert.raw);
  const usage = parsed.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0)
    throw new CaInvalidError(
      `${source}: ${subjectOf(cert)} has no keyCertSign key usage, so it cannot sign certificates`,
    );
  if (cert.validToDate.getTime() <= now)
    throw new CaInvalidError(`${source}: ${subjectOf(cert)} expired on ${cert.validToDate.toISOString()}`);
  if (cert.validFromDate.getTime() > now + 60_000)
    throw new CaInvalidError(
      `${source}: ${subjectOf(cert)} is not valid before ${cert.validFromDate.toISOString()}`,
    );
}

/** Throws CaInvalidError unless the private key belongs to the certificate. */
export function assertKeyMatches(
  key: SigningKey,
  cert: X509Certificate,
  keySource: string,
  certSource: string,
): void {
  if (keyMatchesCertificate(key.keyObject, cert) === 'mismatch')
    throw new CaInvalidError(`${keySource} is not the private key of the certificate in ${certSource}`);
}

/**
 * Orders `pool` into the path from `leaf` up to a self-signed root, checking each signature.
 * Returns the path without `leaf`, root last. Throws CaInvalidError when no root is reached.
 */
export function pathToRoot(
  leaf: X509Certificate,
  pool: readonly X509Certificate[],
  source: string,
): X509Certificate[] {
  const path: X509Certificate[] = [];
  let current = leaf;
  const remaining = pool.filter((c) => c.fingerprint256 !== leaf.fingerprint256);
  while (!isSelfSigned(current)) {
    const index = remaining.findIndex((candidate) => isIssuedBy(current, candidate));
    if (index < 0)
      throw new CaInvalidError(
        `${source}: no certificate in the chain issued ${subjectOf(current)} (issuer ${current.issuer.split('\n').join(', ')}); the chain must lead to a self-signed root`,
      );
    current = remaining.splice(index, 1)[0];
    path.push(current);
  }
  return path;
}
