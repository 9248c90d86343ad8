// @peculiar/x509 set up for weft: the Reflect polyfill it needs and Node's WebCrypto as its provider.
//
// Import X.509 helpers from here, never from '@peculiar/x509' directly, so that the polyfill is
// loaded first and every certificate operation uses the same crypto provider.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** ECDSA P-256 with SHA-256: the algorithm of every key weft generates. */
export const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Node's WebCrypto `subtle`. */
export const subtle = webcrypto.subtle;

/** WebCrypto types (the project has no DOM lib, so they come from node:crypto). */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

// The PEM helpers live in pem.ts (no X.509 library); re-exported for the CA's importers.
export { joinPem, splitPemCertificates } from './pem.ts';
