// A workload's key pair and certificate request: generated in memory, the private key never leaves the process.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { createCsrPem } from './csr.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh ECDSA P-256 key and a CSR signed with it. */
export interface WorkloadKey {
  /** PKCS#8 PEM of the private key (for `tls.createSecureContext`; kept in memory only). */
  keyPem: string;
  /** PKCS#10 PEM. The CA ignores its subject and SANs and sets the identity the token grants. */
  csrPem: string;
}

/**
 * Generates a new P-256 key pair and a CSR for it, with node:crypto only (no X.509 library:
 * every sidecar calls this, and an X.509 library costs ~19 MB resident in each).
 */
export async function generateWorkloadKey(): Promise<WorkloadKey> {
  const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  return { keyPem, csrPem: createCsrPem(privateKey) };
}
