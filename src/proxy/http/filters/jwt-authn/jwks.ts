// JSON Web Key Sets (and PEM public keys) parsed into node:crypto keys, and key selection for a token.
import crypto from 'node:crypto';

/** One verification key. */
export interface Jwk {
  /** `kid`, when the key has one. */
  kid?: string;
  /** `alg`, when the key pins one. */
  alg?: string;
  /** `RSA`, `EC`, `OKP` or `oct`. */
  kty: string;
  key: crypto.KeyObject;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One JWK → a key, or undefined for keys that are not for signatures or cannot be read. */
function readJwk(raw: unknown): Jwk | undefined {
  if (!isObject(raw) || typeof raw.kty !== 'string') return undefined;
  if (raw.use !== undefined && raw.use !== 'sig') return undefined;
  const kid = typeof raw.kid === 'string' ? raw.kid : undefined;
  const alg = typeof raw.alg === 'string' ? raw.alg : undefined;
  try {
    if (raw.kty === 'oct') {
      if (typeof raw.k !== 'string') return undefined;
      return { kid, alg, kty: 'oct', key: crypto.createSecretKey(Buffer.from(raw.k, 'base64url')) };
    }
    if (raw.kty !== 'RSA' && raw.kty !== 'EC' && raw.kty !== 'OKP') return undefined;
    // Only the public members: a JWKS that (wrongly) carries private parts still yields a public key.
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicPart } = raw;
    const key = crypto.createPublicKey({ key: publicPart as crypto.JsonWebKey, format: 'jwk' });
    return { kid, alg, kty: raw.kty, key };
  } catch {
    return undefined;
  }
}

/**
 * Parses a JWKS (`{"keys": [...]}`) or a PEM public key. Keys it cannot use (encryption keys,
 * unknown types) are skipped; throws when nothing usable remains, with a message saying why.
 */
export function parseJwks(text: string): Jwk[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    let key: crypto.KeyObject;
    try {
      key = crypto.createPublicKey(trimmed);
    } catch (error) {
      throw new Error(`the PEM key cannot be read: ${(error as Error).message}`);
    }
    const type = key.asymmetricKeyType;
    const kty = type === 'rsa' || type === 'rsa-pss' ? 'RSA' : type === 'ec' ? 'EC' : 'OKP';
    return [{ kty, key }];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw new Error(`the JWKS is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.keys)) throw new Error('the JWKS has no "keys" list');
  const keys = parsed.keys.map(readJwk).filter((k) => k !== undefined);
  if (keys.length === 0) throw new Error('the JWKS has no usable signature key');
  return keys;
}
