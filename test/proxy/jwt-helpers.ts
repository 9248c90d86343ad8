// Test helpers for JWTs: key pairs, JWKS documents and signed tokens made with node:crypto.
import crypto from 'node:crypto';

export type Alg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA' | 'HS256';

/** A signing key with its public JWK (`kid` set). */
export interface TestKey {
  alg: Alg;
  kid: string;
  privateKey: crypto.KeyObject;
  jwk: Record<string, unknown>;
}

export function makeKey(alg: Alg, kid = `${alg.toLowerCase()}-key`): TestKey {
  if (alg === 'HS256') {
    const secret = crypto.randomBytes(32);
    return {
      alg,
      kid,
      privateKey: crypto.createSecretKey(secret),
      jwk: { kty: 'oct', k: secret.toString('base64url'), kid, alg },
    };
  }
  const pair =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? crypto.generateKeyPairSync('ed25519')
          : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg },
  };
}

export function jwks(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

const HASH: Record<Alg, string | null> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  EdDSA: null,
  HS256: 'sha256',
};

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A signed compact JWS. `header` overrides (e.g. `{alg: 'none'}`). */
export function sign(
  key: TestKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header })}.${b64(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (key.alg === 'HS256') signature = crypto.createHmac('sha256', key.privateKey).update(data).digest();
  else if (key.alg === 'ES256' || key.alg === 'ES384')
    signature = crypto.sign(HASH[key.alg], data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  else if (key.alg === 'PS256')
    signature = crypto.sign('sha256', data, {
      key: key.privateKey,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
    });
  else signature = crypto.sign(HASH[key.alg], data, key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** Seconds since the epoch, offset by `delta`. */
export function epoch(delta = 0): number {
  return Math.floor(Date.now() / 1000) + delta;
}
