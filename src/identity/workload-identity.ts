// A proxy's SPIFFE identity: its own key, a certificate from the control plane's CA, renewed before expiry.
//
// The private key is generated here, in memory, and never sent anywhere; the control plane sees
// only a CSR and the bootstrap token that says which identity this workload may have. Every
// renewal uses a new key. Listeners registered with `onRotate` hear of each new certificate, so
// servers can `setSecureContext` and clients dial with the new one; open connections keep going.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import {
  BadRequestError,
  ServerUnavailableError,
  UnauthorizedError,
  UsageError,
  type WeftError,
} from '../errors.ts';
import { logger } from '../observe/log.ts';
import { readFile } from '../read-file.ts';
import { CA_API_PATHS, type CertificateRequest, type CertificateResponse } from './ca-api-types.ts';
import { formatDuration } from './duration.ts';
import { splitPemCertificates } from './pem.ts';
import { type PostResult, postJson } from './post-json.ts';
import { spiffeIdOfCertificate } from './spiffe.ts';
import { generateWorkloadKey } from './workload-key.ts';

/** Clock and timers, replaceable in tests. */
export interface IdentityTimers {
  now(): number;
  /** `unref`: the timer alone does not keep the process alive (renewals); `ref`: it does (start-up retries). */
  setTimeout(callback: () => void, ms: number, mode: 'ref' | 'unref'): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: IdentityTimers = {
  now: Date.now,
  setTimeout: (callback, ms, mode) => {
    const timer = setTimeout(callback, ms);
    if (mode === 'unref') timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkloadIdentityConfig {
  /** Control-plane API URL, e.g. `http://127.0.0.1:15080`; several, comma-separated, are tried in turn. */
  server: string;
  /** The bootstrap token itself, or `{ file }` holding it (re-read before every request, so it can be replaced). */
  token: string | { file: string };
  /** Certificate lifetime to ask for, in ms; default: the control plane's `--cert-ttl`. */
  ttlMs?: number;
  /** Renew after this fraction of the certificate's remaining life at issue. Default 0.5. */
  renewFraction?: number;
  /** Random spread around the renewal time, as a fraction of the life (±). Default 0.05. */
  jitterFraction?: number;
  /** First retry delay after a failed request; doubles on each failure. Default 1 s. */
  minBackoffMs?: number;
  /** Longest retry delay. Default 30 s. */
  maxBackoffMs?: number;
  /** How long `start()` keeps retrying while the control plane is unreachable. Default 60 s. */
  startTimeoutMs?: number;
  /** Timeout of one certificate request. Default 10 s. */
  requestTimeoutMs?: number;
  /** For tests: clock and timers. */
  timers?: IdentityTimers;
}

/** The workload's current certificate and key. */
export interface IdentitySnapshot {
  /** PEM: leaf first, then intermediates (what a TLS endpoint presents). */
  certChainPem: string;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  /** PEM roots to verify peers against. */
  trustBundlePem: string;
  /** The SPIFFE ID in the leaf. */
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex serial number of the leaf. */
  serialNumber: string;
}

/** Longest delay `setTimeout` honours; longer ones are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkloadIdentity {
  readonly #config: WorkloadIdentityConfig;
  readonly #timers: IdentityTimers;
  readonly #listeners = new Set<(snapshot: IdentitySnapshot) => void>();
  readonly #log = logger({ component: 'workload-identity' });
  #current: IdentitySnapshot | undefined;
  #context: SecureContext | undefined;
  #timer: unknown;
  #failures = 0;
  /** Index (modulo the number of servers) of the control plane asked next; moves on after a failure. */
  #serverIndex = 0;
  #closed = false;
  #inflight: Promise<IdentitySnapshot> | undefined;

  constructor(config: WorkloadIdentityConfig) {
    const fraction = config.renewFraction ?? 0.5;
    if (!(fraction > 0 && fraction < 1)) throw new UsageError('renewFraction must be between 0 and 1');
    this.#config = config;
    this.#timers = config.timers ?? realTimers;
  }

  /**
   * Gets the first certificate. Retries with backoff while the control plane is unreachable (up to
   * `startTimeoutMs`); a refused token (401) or request (400) fails at once. Then schedules renewals.
   */
  async start(): Promise<IdentitySnapshot> {
    const deadline = this.#timers.now() + (this.#config.startTimeoutMs ?? 60_000);
    for (;;) {
      try {
        return await this.renewNow();
      } catch (err) {
        if (!(err instanceof ServerUnavailableError) || this.#closed) throw err;
        const delay = this.#backoff();
        if (this.#timers.now() + delay > deadline) throw err;
        this.#log.warn({ err: err.message, retryInMs: delay }, 'control plane unavailable; retrying');
        await new Promise<void>((resolve) => this.#timers.setTimeout(resolve, delay, 'ref'));
      }
    }
  }

  /** The current certificate; throws if `start()` has not succeeded yet. */
  current(): IdentitySnapshot {
    if (!this.#current) throw new Error('WorkloadIdentity.current() called before start() resolved');
    return this.#current;
  }

  /** TLS options for the current certificate: key, chain, trust bundle, TLS 1.3 only. */
  tlsOptions(): SecureContextOptions {
    const c = this.current();
    return { key: c.keyPem, cert: c.certChainPem, ca: c.trustBundlePem, minVersion: 'TLSv1.3' };
  }

  /** A secure context for the current certificate (rebuilt once per rotation). */
  secureContext(): SecureContext {
    this.#context ??= createSecureContext(this.tlsOptions());
    return this.#context;
  }

  /** Calls `listener` after every new certificate (not for the first one). Returns an unsubscribe function. */
  onRotate(listener: (snapshot: IdentitySnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Fetches a new certificate with a new key now, and reschedules the next renewal. */
  renewNow(): Promise<IdentitySnapshot> {
    this.#inflight ??= this.#fetch().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /** Stops renewing. The current certificate stays readable. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #fetch(): Promise<IdentitySnapshot> {
    let snapshot: IdentitySnapshot;
    try {
      snapshot = await this.#request();
    } catch (err) {
      this.#failures++;
      throw err;
    }
    const first = this.#current === undefined;
    this.#failures = 0;
    this.#current = snapshot;
    this.#context = undefined;
    this.#scheduleRenewal(snapshot);
    this.#log.info(
      {
        spiffeId: snapshot.spiffeId,
        serial: snapshot.serialNumber,
        notAfter: snapshot.notAfter.toISOString(),
      },
      first ? 'workload certificate issued' : 'workload certificate rotated',
    );
    if (!first)
      for (const listener of this.#listeners) {
        try {
          listener(snapshot);
        } catch (err) {
          this.#log.error({ err }, 'rotation listener threw');
        }
      }
    return snapshot;
  }

  /** Delay before the next retry: min · 2^(failures-1), capped, with ±20% jitter. */
  #backoff(): number {
    const min = this.#config.minBackoffMs ?? 1000;
    const max = this.#config.maxBackoffMs ?? 30_000;
    const base = Math.min(max, min * 2 ** Math.max(0, this.#failures - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  #scheduleRenewal(snapshot: IdentitySnapshot): void {
    const now = this.#timers.now();
    const life = Math.max(0, snapshot.notAfter.getTime() - now);
    const fraction = this.#config.renewFraction ?? 0.5;
    const jitter = (this.#config.jitterFraction ?? 0.05) * (Math.random() * 2 - 1);
    const share = Math.min(0.95, Math.max(0.05, fraction + jitter));
    this.#arm(now + life * share);
  }

  #arm(at: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    const delay = Math.max(0, at - this.#timers.now());
    this.#timer = this.#timers.setTimeout(
      () => {
        this.#timer = undefined;
        if (delay > MAX_TIMER_MS) this.#arm(at);
        else this.#renewInBackground();
      },
      Math.min(delay, MAX_TIMER_MS),
      'unref',
    );
  }

  #renewInBackground(): void {
    if (this.#closed) return;
    this.renewNow().catch((err: WeftError) => {
      const delay = this.#backoff();
      const left = this.#current ? this.#current.notAfter.getTime() - this.#timers.now() : 0;
      this.#log[left > 0 ? 'warn' : 'error'](
        { err: err.message, code: err.code, retryInMs: delay, validFor: formatDuration(Math.max(0, left)) },
        left > 0
          ? 'certificate renewal failed; retrying'
          : 'certificate renewal failed and the certificate has expired',
      );
      this.#arm(this.#timers.now() + delay);
    });
  }

  async #token(): Promise<string> {
    const { token } = this.#config;
    if (typeof token === 'string') return token.trim();
    try {
      return (await readFile(token.file, 'utf8')).trim();
    } catch (err) {
      throw new UsageError(
        `cannot read the bootstrap token file ${token.file} (${(err as NodeJS.ErrnoException).code ?? err}); create one with weft token create`,
      );
    }
  }

  async #request(): Promise<IdentitySnapshot> {
    const token = await this.#token();
    const key = await generateWorkloadKey();
    const body: CertificateRequest = { csr: key.csrPem };
    if (this.#config.ttlMs !== undefined) body.ttl = `${Math.round(this.#config.ttlMs)}ms`;
    const servers = this.#config.server.split(',');
    const url = new URL(CA_API_PATHS.certificates, servers[this.#serverIndex % servers.length]);
    let res: PostResult;
    try {
      res = await postJson(url, body, {
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: this.#config.requestTimeoutMs ?? 10_000,
      });
    } catch (err) {
      this.#serverIndex++;
      throw new ServerUnavailableError(
        `cannot reach the control plane at ${url.origin} for a certificate (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        err,
      );
    }
    const text = res.text;
    if (res.status >= 500) this.#serverIndex++;
    if (res.status < 200 || res.status > 299) throw errorFromResponse(res.status, text, url.origin);
    return parseCertificateResponse(text, key.keyPem, url.origin);
  }
}

function errorFromResponse(status: number, text: string, origin: string): WeftError {
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) message = parsed.error.message;
  } catch {
    // not JSON: keep the text
  }
  if (status === 401 || status === 403)
    return new UnauthorizedError(`${origin} refused the certificate request: ${message}`);
  if (status >= 400 && status < 500)
    return new BadRequestError(`${origin} rejected the certificate request: ${message}`);
  return new ServerUnavailableError(`${origin} answered ${status} to the certificate request: ${message}`);
}

/** Validates the CA's answer: a chain whose leaf holds our public key and one SPIFFE ID, and a bundle. */
function parseCertificateResponse(text: string, keyPem: string, origin: string): IdentitySnapshot {
  const bad = (why: string) =>
    new ServerUnavailableError(`${origin} sent an unusable certificate response: ${why}`);
  let body: Partial<CertificateResponse>;
  try {
    body = JSON.parse(text) as Partial<CertificateResponse>;
  } catch {
    throw bad('not JSON');
  }
  if (typeof body.certificateChain !== 'string' || typeof body.trustBundle !== 'string')
    throw bad('certificateChain and trustBundle must be PEM strings');
  const chain = splitPemCertificates(body.certificateChain);
  if (chain.length === 0) throw bad('certificateChain holds no certificate');
  if (splitPemCertificates(body.trustBundle).length === 0) throw bad('trustBundle holds no certificate');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain[0]);
  } catch {
    throw bad('the leaf certificate does not parse');
  }
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem)))
    throw bad('the leaf certificate is not for this workload key');
  const spiffeId = spiffeIdOfCertificate(leaf);
  if (!spiffeId) throw bad('the leaf certificate carries no SPIFFE ID');
  return {
    certChainPem: body.certificateChain,
    keyPem,
    trustBundlePem: body.trustBundle,
    spiffeId,
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
    serialNumber: leaf.serialNumber,
  };
}
