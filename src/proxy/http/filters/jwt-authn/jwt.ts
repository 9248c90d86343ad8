// A JWT (JWS compact form): parsing, signature verification with node:crypto, and Envoy's claim checks.
import crypto from 'node:crypto';
import type { Jwk } from './jwks.ts';
import type { JwtStatus } from './status.ts';

/** A parsed, not yet verified, token. */
export interface Jwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The payload segment as it appears in the token (base64url), for forward_payload_header. */
  payloadSegment: string;
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
  alg: string;
  kid?: string;
}

/** How each algorithm verifies: key type, digest, and the curve for ECDSA. */
interface Algorithm {
  kty: 'RSA' | 'EC' | 'OKP' | 'oct';
  hash: string | null;
  pss?: boolean;
  curve?: string;
}

const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: { kty: 'RSA', hash: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512' },
  PS256: { kty: 'RSA', hash: 'sha256', pss: true },
  PS384: { kty: 'RSA', hash: 'sha384', pss: true },
  PS512: { kty: 'RSA', hash: 'sha512', pss: true },
  ES256: { kty: 'EC', hash: 'sha256', curve: 'prime256v1' },
  ES384: { kty: 'EC', hash: 'sha384', curve: 'secp384r1' },
  ES512: { kty: 'EC', hash: 'sha512', curve: 'secp521r1' },
  EdDSA: { kty: 'OKP', hash: null },
  // HMAC only verifies with an `oct` key in the JWKS: a JWKS of public keys never accepts HS*.
  HS256: { kty: 'oct', hash: 'sha256' },
  HS384: { kty: 'oct', hash: 'sha384' },
  HS512: { kty: 'oct', hash: 'sha512' },
};

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeJson(segment: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a compact JWS; returns the token or why it is malformed. */
export function parseJwt(token: string): Jwt | JwtStatus {
  const parts = token.split('.');
  if (parts.length !== 3) return 'JwtBadFormat';
  const [h, p, s] = parts;
  const header = decodeJson(h);
  if (header === undefined) return 'JwtHeaderParseError';
  if (typeof header.alg !== 'string') return 'JwtHeaderBadAlg';
  if (!Object.hasOwn(ALGORITHMS, header.alg)) return 'JwtHeaderNotImplementedAlg';
  const payload = decodeJson(p);
  if (payload === undefined) return 'JwtPayloadParseError';
  if (!BASE64URL.test(s) || s === '') return 'JwtSignatureParseError';
  return {
    header,
    payload,
    payloadSegment: p,
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
    alg: header.alg,
    kid: typeof header.kid === 'string' ? header.kid : undefined,
  };
}

function verifyWith(jwt: Jwt, algorithm: Algorithm, jwk: Jwk): boolean {
  const data = Buffer.from(jwt.signingInput);
  try {
    if (algorithm.kty === 'oct') {
      const expected = crypto.createHmac(algorithm.hash!, jwk.key).update(data).digest();
      return expected.length === jwt.signature.length && crypto.timingSafeEqual(expected, jwt.signature);
    }
    if (algorithm.kty === 'EC') {
      if (jwk.key.asymmetricKeyDetails?.namedCurve !== algorithm.curve) return false;
      return crypto.verify(algorithm.hash, data, { key: jwk.key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    }
    if (algorithm.pss)
      return crypto.verify(
        algorithm.hash,
        data,
        {
          key: jwk.key,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
        },
        jwt.signature,
      );
    return crypto.verify(algorithm.hash, data, jwk.key, jwt.signature);
  } catch {
    // A key of the wrong size or shape for the signature: not a match.
    return false;
  }
}

/**
 * Verifies the signature with the keys whose `kid` (when the token names one), type and `alg`
 * fit the token. `none` never gets here (it is not an algorithm weft knows).
 */
export function verifySignature(jwt: Jwt, keys: readonly Jwk[]): JwtStatus {
  const algorithm = ALGORITHMS[jwt.alg];
  const candidates = keys.filter(
    (k) =>
      (jwt.kid === undefined || k.kid === undefined || k.kid === jwt.kid) &&
      k.kty === algorithm.kty &&
      (k.alg === undefined || k.alg === jwt.alg),
  );
  if (candidates.length === 0) return 'JwksKidAlgMismatch';
  return candidates.some((k) => verifyWith(jwt, algorithm, k)) ? 'Ok' : 'JwtVerificationFail';
}

/** Strips a scheme and a trailing slash, as Envoy compares audiences (`https://api/` = `api`). */
function normalizeAudience(aud: string): string {
  return aud.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** The token's audiences (`aud` is a string or a list of strings). */
export function audiencesOf(payload: Record<string, unknown>): string[] {
  const aud = payload.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** What the claim checks need from a provider. */
export interface ClaimRules {
  issuer: string;
  audiences: readonly string[];
  requireExpiration: boolean;
  /** 0: no limit. */
  maxLifetimeSeconds: number;
  clockSkewSeconds: number;
}

/** Envoy's order: issuer, then time, then audiences (the signature comes after, with the keys). */
export function checkClaims(jwt: Jwt, rules: ClaimRules, nowSeconds: number): JwtStatus {
  const { payload } = jwt;
  if (rules.issuer !== '' && payload.iss !== rules.issuer) return 'JwtUnknownIssuer';
  const exp = payload.exp;
  const nbf = payload.nbf;
  if (exp !== undefined && typeof exp !== 'number') return 'JwtPayloadParseError';
  if (nbf !== undefined && typeof nbf !== 'number') return 'JwtPayloadParseError';
  if (typeof nbf === 'number' && nowSeconds + rules.clockSkewSeconds < nbf) return 'JwtNotYetValid';
  if (typeof exp === 'number' && nowSeconds - rules.clockSkewSeconds > exp) return 'JwtExpired';
  if (exp === undefined && (rules.requireExpiration || rules.maxLifetimeSeconds > 0))
    return 'JwtMissingExpiration';
  if (typeof exp === 'number' && rules.maxLifetimeSeconds > 0 && exp - nowSeconds > rules.maxLifetimeSeconds)
    return 'JwtExpLifetimeTooLong';
  if (rules.audiences.length > 0) {
    const allowed = new Set(rules.audiences.map(normalizeAudience));
    if (!audiencesOf(payload).some((a) => allowed.has(normalizeAudience(a)))) return 'JwtAudienceNotAllowed';
  }
  return 'Ok';
}
