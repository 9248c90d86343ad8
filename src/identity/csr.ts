// PKCS#10 certificate requests (RFC 2986) for EC P-256 keys, written with node:crypto and a small DER writer.
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { DER_TAG, derBitString, derObjectIdentifier, derSequence, derSmallInteger, derTlv } from './der.ts';
import { derToPem } from './pem.ts';

/** ecdsa-with-SHA256 (RFC 5758): the AlgorithmIdentifier has no parameters. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/**
 * A CSR with an empty subject and no attributes, signed by `privateKey` (an EC key). The CA
 * ignores subject and SANs and sets the identity its token grants, so none are asked for.
 */
export function createCsrDer(privateKey: KeyObject): Buffer {
  if (privateKey.asymmetricKeyType !== 'ec')
    throw new TypeError(`createCsrDer: an EC key is needed, not ${privateKey.asymmetricKeyType}`);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const info = derSequence(
    derSmallInteger(0), // version v1
    derSequence(), // subject: the empty Name
    spki,
    derTlv(DER_TAG.context0, Buffer.alloc(0)), // attributes: none
  );
  const signature = sign('sha256', info, privateKey); // DER ECDSA-Sig-Value
  return derSequence(info, derSequence(derObjectIdentifier(ECDSA_WITH_SHA256)), derBitString(signature));
}

/** The same request as PEM (`CERTIFICATE REQUEST`). */
export function createCsrPem(privateKey: KeyObject): string {
  return derToPem('CERTIFICATE REQUEST', createCsrDer(privateKey));
}
