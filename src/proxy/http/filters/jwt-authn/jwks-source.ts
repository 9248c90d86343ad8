// Where a provider's keys come from: inline (local_jwks) or fetched over HTTP (remote_jwks) with a shared cache.
import { useDefaultTrust } from '../../../tls/default-trust.ts';
import { type Jwk, parseJwks } from './jwks.ts';

/** Keys as a request may use them now. */
export type KeysNow =
  /** Usable keys. */
  | { state: 'ready'; keys: readonly Jwk[] }
  /** Not here yet (or stale without the token's kid): `load()` first. */
  | { state: 'missing' }
  /** The last fetch failed recently; do not wait for another one. */
  | { state: 'failed' };

/** A provider's key source. */
export interface JwksSource {
  /** The keys for a token with `kid` (undefined: any key), without waiting. */
  now(kid: string | undefined): KeysNow;
  /** Fetches the keys if needed; resolves when they are in, the fetch failed, or the timeout passed. */
  load(): Promise<void>;
}

/** Inline keys: always ready. */
export class LocalJwks implements JwksSource {
  private readonly keys: readonly Jwk[];

  constructor(keys: readonly Jwk[]) {
    this.keys = keys;
  }

  now(): KeysNow {
    return { state: 'ready', keys: this.keys };
  }

  load(): Promise<void> {
    return Promise.resolve();
  }
}

/** Settings of one remote JWKS (envoy RemoteJwks + HttpUri). */
export interface RemoteJwksConfig {
  /** `http_uri.uri`. */
  uri: string;
  /** `http_uri.timeout`: the longest a request waits for the keys, and the fetch's own deadline. */
  timeoutMs: number;
  /** `cache_duration` (Envoy default 10 min): keys older than this are refreshed. */
  cacheDurationMs: number;
  /** After a failed fetch, requests fail fast for this long before a new fetch is tried (Envoy's failed_refetch_duration, 1 s). */
  failedRefetchMs: number;
}

/** What the process knows about one JWKS URI, shared by every provider (and config version) using it. */
interface CacheEntry {
  keys?: readonly Jwk[];
  /** `Date.now()` of the last successful fetch. */
  fetchedAt: number;
  /** `Date.now()` of the last failed fetch (0: none since the last success). */
  failedAt: number;
  lastError?: string;
  inflight?: Promise<void>;
}

const cache = new Map<string, CacheEntry>();

/** The largest JWKS body weft accepts (a JWKS is a few kilobytes). */
const MAX_JWKS_BYTES = 1 << 20;

/** Counters of remote JWKS fetches (Envoy's jwks_fetch_success / jwks_fetch_failed). */
export const jwksFetchStats = { success: 0, failed: 0 };

async function fetchJwks(uri: string, timeoutMs: number): Promise<readonly Jwk[]> {
  // undici is imported on the first remote fetch only: most sidecars never fetch a JWKS.
  const { request } = await import('undici');
  // An https JWKS URI is verified against Node's default CA certificates.
  useDefaultTrust();
  const response = await request(uri, {
    method: 'GET',
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > MAX_JWKS_BYTES) {
      response.body.destroy();
      throw new Error(`the JWKS is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  if (response.statusCode !== 200) throw new Error(`the JWKS server answered ${response.statusCode}`);
  return parseJwks(Buffer.concat(chunks).toString('utf8'));
}

/** Keys fetched from `uri`, cached for `cacheDurationMs`, refreshed in the background when stale. */
export class RemoteJwks implements JwksSource {
  readonly config: RemoteJwksConfig;
  private readonly entry: CacheEntry;

  constructor(config: RemoteJwksConfig) {
    this.config = config;
    let entry = cache.get(config.uri);
    if (entry === undefined) {
      entry = { fetchedAt: 0, failedAt: 0 };
      cache.set(config.uri, entry);
    }
    this.entry = entry;
  }

  now(kid: string | undefined): KeysNow {
    const { entry, config } = this;
    const now = Date.now();
    if (entry.keys !== undefined) {
      if (now - entry.fetchedAt < config.cacheDurationMs) return { state: 'ready', keys: entry.keys };
      // Stale: refresh in the background, keep serving the old keys unless the token needs a new kid.
      if (entry.failedAt === 0 || now - entry.failedAt >= config.failedRefetchMs) this.fetch();
      if (kid === undefined || entry.keys.some((k) => k.kid === kid))
        return { state: 'ready', keys: entry.keys };
    }
    if (entry.inflight === undefined && entry.failedAt !== 0 && now - entry.failedAt < config.failedRefetchMs)
      return { state: 'failed' };
    return { state: 'missing' };
  }

  load(): Promise<void> {
    const inflight = this.fetch();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.config.timeoutMs);
      timer.unref();
      inflight.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The fetch in progress for this URI, or a new one; it never rejects. */
  private fetch(): Promise<void> {
    const { entry, config } = this;
    entry.inflight ??= fetchJwks(config.uri, config.timeoutMs).then(
      (keys) => {
        entry.keys = keys;
        entry.fetchedAt = Date.now();
        entry.failedAt = 0;
        entry.lastError = undefined;
        entry.inflight = undefined;
        jwksFetchStats.success++;
      },
      (error: unknown) => {
        entry.failedAt = Date.now();
        entry.lastError = (error as Error).message;
        entry.inflight = undefined;
        jwksFetchStats.failed++;
      },
    );
    return entry.inflight;
  }
}

/** Forgets every cached JWKS (tests). */
export function clearJwksCache(): void {
  cache.clear();
}
