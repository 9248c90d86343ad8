// The operator token: the secret that authorises write API calls from beyond the control plane's own host.
//
// Generated on first start into `<data-dir>/operator.token` (mode 0600). Writes from a loopback
// peer need no token (only local users can reach a loopback socket, as with `kubectl` on a
// kubeadm node's admin.conf); writes from anywhere else must send `Authorization: Bearer <token>`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { StoreCorruptError } from '../../errors.ts';
import { fileExists, PRIVATE_FILE_MODE, writeFileAtomic } from './files.ts';

/** File name of the operator token inside the data directory. */
export const OPERATOR_TOKEN_FILE = 'operator.token';
const TOKEN = /^[A-Za-z0-9_-]{32,512}$/;

/** Whether a write may proceed, and why (string union for logs and tests). */
export type WriteAccess = 'allowed-loopback' | 'allowed-token' | 'missing-token' | 'invalid-token';

/** Whether a peer address (as `socket.remoteAddress` gives it) is on the loopback interface. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1';
}

/** The token in an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | string[] | undefined): string | undefined {
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match ? match[1] : undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class OperatorToken {
  /** Where the token is stored; an operator reads it from here to configure `WEFT_TOKEN`. */
  readonly path: string;
  readonly #digest: Buffer;

  constructor(token: string, path: string) {
    this.path = path;
    this.#digest = digest(token);
  }

  /** Loads `<dataDir>/operator.token`, generating it (256 random bits, mode 0600) on first start. */
  static async open(dataDir: string): Promise<OperatorToken> {
    const path = join(dataDir, OPERATOR_TOKEN_FILE);
    await mkdir(dataDir, { recursive: true });
    if (!(await fileExists(path)))
      await writeFileAtomic(path, `${randomBytes(32).toString('base64url')}\n`, PRIVATE_FILE_MODE);
    const token = (await readFile(path, 'utf8')).trim();
    if (!TOKEN.test(token))
      throw new StoreCorruptError(`${path} does not hold an operator token; remove it to generate a new one`);
    return new OperatorToken(token, path);
  }

  /** Compares in constant time (digests of equal length, so the length of the secret does not leak). */
  matches(presented: string | undefined): boolean {
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), this.#digest);
  }

  /**
   * The write-access decision for one request: loopback peers pass; others need this token as
   * `Authorization: Bearer`. The API answers 401 (UnauthorizedError) for `missing-token` and
   * `invalid-token`.
   */
  authorizeWrite(request: {
    remoteAddress: string | undefined;
    authorization: string | string[] | undefined;
  }): WriteAccess {
    if (isLoopbackAddress(request.remoteAddress)) return 'allowed-loopback';
    const token = bearerToken(request.authorization);
    if (token === undefined) return 'missing-token';
    return this.matches(token) ? 'allowed-token' : 'invalid-token';
  }
}
