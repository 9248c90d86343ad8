// Bootstrap tokens: HMAC-signed claims granting one workload identity, checked before the CA signs a CSR.
//
// A token is `base64url(JSON claims) + "." + base64url(HMAC-SHA256(key, first part))`. The key is
// 32 random bytes in `<data-dir>/ca/token.key` (0600) and never leaves the control plane.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestError, StoreCorruptError } from '../../errors.ts';
import { isControlPlaneIdentity, segmentProblem, type WorkloadIdentityClaim } from '../../identity/spiffe.ts';
import { ensurePrivateDir, fileExists, PRIVATE_FILE_MODE, writeFileAtomic } from './files.ts';

/** File name of the HMAC key inside `<data-dir>/ca/`. */
export const TOKEN_KEY_FILE = 'token.key';
/** Default token lifetime: one year (`--ttl 8760h`). */
export const DEFAULT_TOKEN_TTL_MS = 8760 * 3_600_000;
/** Longest token lifetime accepted: ten years. */
export const MAX_TOKEN_TTL_MS = 10 * 8760 * 3_600_000;
/** Tolerated clock difference for `iat` in the future. */
const SKEW_S = 60;
/** Longest token accepted, in characters (a real one is about 200). */
const MAX_TOKEN_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a token says, as signed. Times are seconds since the epoch, as in JWT. */
export interface BootstrapTokenClaims {
  /** Namespace granted. */
  ns: string;
  /** Service account granted. */
  sa: string;
  /** Issued at. */
  iat: number;
  /** Expires at. */
  exp: number;
  /** Random token id (for audit logs and a future deny list). */
  jti: string;
}

/** A minted token with what it grants. */
export interface MintedToken {
  token: string;
  claims: BootstrapTokenClaims;
  expiresAt: Date;
}

/** Result of checking a token; only `valid` carries an identity. */
export type TokenVerdict =
  | { outcome: 'valid'; identity: WorkloadIdentityClaim; claims: BootstrapTokenClaims }
  | { outcome: 'malformed' | 'bad-signature' | 'expired' | 'not-yet-valid'; reason: string };

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

function claimsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'claims are not an object';
  const c = value as Record<string, unknown>;
  if (typeof c.ns !== 'string' || segmentProblem(c.ns)) return 'ns claim is not a valid namespace';
  if (typeof c.sa !== 'string' || segmentProblem(c.sa)) return 'sa claim is not a valid service account';
  if (!Number.isSafeInteger(c.iat) || !Number.isSafeInteger(c.exp)) return 'iat/exp claims are not integers';
  if (typeof c.jti !== 'string') return 'jti claim is missing';
  return undefined;
}

/** Mints and verifies bootstrap tokens with one HMAC key. */
export class BootstrapTokens {
  readonly #key: Buffer;
  readonly #now: () => number;

  /** `key` must be at least 32 bytes; `now` is the clock (ms), for tests. */
  constructor(key: Buffer, now: () => number = Date.now) {
    if (key.length < 32) throw new Error('bootstrap token key must be at least 32 bytes');
    this.#key = key;
    this.#now = now;
  }

  /** Loads `<dataDir>/ca/token.key`, creating it (32 random bytes, mode 0600) on first start. */
  static async open(dataDir: string, now?: () => number): Promise<BootstrapTokens> {
    const caDir = join(dataDir, 'ca');
    const path = join(caDir, TOKEN_KEY_FILE);
    await ensurePrivateDir(caDir);
    if (!(await fileExists(path)))
      await writeFileAtomic(path, `${randomBytes(32).toString('base64url')}\n`, PRIVATE_FILE_MODE);
    const text = (await readFile(path, 'utf8')).trim();
    const key = Buffer.from(text, 'base64url');
    if (!BASE64URL.test(text) || key.length < 32)
      throw new StoreCorruptError(
        `${path} does not hold a 32-byte base64url key; remove it to make a new one (every token minted so far stops working)`,
      );
    return new BootstrapTokens(key, now);
  }

  /** Mints a token granting exactly `identity` for `ttlMs` (default one year). */
  mint(identity: WorkloadIdentityClaim, ttlMs: number = DEFAULT_TOKEN_TTL_MS): MintedToken {
    for (const [field, value] of [
      ['namespace', identity.namespace],
      ['serviceAccount', identity.serviceAccount],
    ] as const) {
      const problem = segmentProblem(value);
      if (problem) throw new BadRequestError(`${field}: ${JSON.stringify(value)} ${problem}`);
    }
    if (isControlPlaneIdentity(identity))
      throw new BadRequestError(
        `${identity.namespace}/${identity.serviceAccount} is the control plane's own identity; no token is minted for it`,
      );
    if (!Number.isFinite(ttlMs) || ttlMs < 1000 || ttlMs > MAX_TOKEN_TTL_MS)
      throw new BadRequestError('ttl: must be between 1s and 87600h');
    const iat = Math.floor(this.#now() / 1000);
    const claims: BootstrapTokenClaims = {
      ns: identity.namespace,
      sa: identity.serviceAccount,
      iat,
      exp: iat + Math.ceil(ttlMs / 1000),
      jti: randomBytes(16).toString('base64url'),
    };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const token = `${payload}.${mac(this.#key, payload).toString('base64url')}`;
    return { token, claims, expiresAt: new Date(claims.exp * 1000) };
  }

  /** Checks signature (constant time) and lifetime. Never throws for any input. */
  verify(token: unknown): TokenVerdict {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
      return { outcome: 'malformed', reason: 'not a bootstrap token' };
    const parts = token.trim().split('.');
    if (parts.length !== 2 || !BASE64URL.test(parts[0]) || !BASE64URL.test(parts[1]))
      return { outcome: 'malformed', reason: 'not a bootstrap token (expected two base64url parts)' };
    const presented = Buffer.from(parts[1], 'base64url');
    const expected = mac(this.#key, parts[0]);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      return {
        outcome: 'bad-signature',
        reason: 'signature does not verify (not minted by this control plane)',
      };
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    } catch {
      return { outcome: 'malformed', reason: 'claims are not JSON' };
    }
    const problem = claimsProblem(claims);
    if (problem) return { outcome: 'malformed', reason: problem };
    const c = claims as BootstrapTokenClaims;
    const nowS = this.#now() / 1000;
    if (c.exp <= nowS)
      return { outcome: 'expired', reason: `expired at ${new Date(c.exp * 1000).toISOString()}` };
    if (c.iat > nowS + SKEW_S)
      return {
        outcome: 'not-yet-valid',
        reason: `issued in the future (${new Date(c.iat * 1000).toISOString()})`,
      };
    return { outcome: 'valid', identity: { namespace: c.ns, serviceAccount: c.sa }, claims: c };
  }
}
