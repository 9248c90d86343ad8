// A workload's key pair and certificate request: generated in memory, the private key never leaves the process.
import { createPrivateKey } from 'node:crypto';
import { type CryptoKeyPair, P256, subtle, x509 } from './x509.ts';

/** A fresh ECDSA P-256 key and a CSR signed with it. */
export interface WorkloadKey {
  /** PKCS#8 PEM of the private key (for `tls.createSecureContext`; kept in memory only). */
  keyPem: string;
  /** PKCS#10 PEM. The CA ignores its subject and SANs and sets the identity the token grants. */
  csrPem: string;
}

/** Generates a new P-256 key pair and a CSR for it. */
export async function generateWorkloadKey(): Promise<WorkloadKey> {
  const keys = (await subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: P256 });
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  return { keyPem, csrPem: csr.toString('pem') };
}
