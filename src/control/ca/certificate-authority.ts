// The mesh's certificate authority: signs workload CSRs with exactly the SPIFFE identity a token grants.
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { BadRequestError } from '../../errors.ts';
import { formatDuration } from '../../identity/duration.ts';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId, type WorkloadIdentityClaim } from '../../identity/spiffe.ts';
import { joinPem, x509 } from '../../identity/x509.ts';
import { logger } from '../../observe/log.ts';
import { type CaMaterial, type CaMode, subjectOf } from './ca-material.ts';
import { CLOCK_SKEW_MS, loadOrCreateRoot, randomSerial } from './generated-root.ts';
import { loadPluginCa, type PluginCaFiles } from './plugin-ca.ts';

/** Default workload certificate lifetime (Istio's): 24 hours. */
export const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;
/** Longest workload certificate lifetime a request may ask for (Istio's default maximum): 90 days. */
export const MAX_CERT_TTL_MS = 90 * 24 * 3_600_000;
/**
 * Shortest workload certificate lifetime: 10 seconds. Short enough to exercise rotation under
 * load (30 s certificates), long enough that a renewal at half-life is still a real interval.
 */
export const MIN_CERT_TTL_MS = 10_000;
/** Largest CSR accepted, in characters of PEM. */
const MAX_CSR_LENGTH = 16_384;

export interface CertificateAuthorityConfig {
  /** The control plane's data directory; a generated root lives in `<dataDir>/ca/`. */
  dataDir: string;
  /** Trust domain of every SPIFFE ID this CA issues. Default `cluster.local`. */
  trustDomain?: string;
  /** Lifetime of a workload certificate when the request does not ask for one (`--cert-ttl`). Default 24 h. */
  defaultTtlMs?: number;
  /** Longest lifetime a request may ask for. Default 90 days (never less than `defaultTtlMs`). */
  maxTtlMs?: number;
  /** The user's own CA (`--ca-cert`, `--ca-key`, `--ca-chain`); absent: generate a root in the data dir. */
  plugin?: PluginCaFiles;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** A signed workload certificate. */
export interface IssuedCertificate {
  /** PEM: the leaf first, then the CA certificates up to (not including) the root. */
  certificateChainPem: string;
  /** The one URI SAN in the leaf. */
  spiffeId: string;
  /** Hex serial number of the leaf. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** What `weft check` and the API report about the CA (nothing secret). */
export interface CaInfo {
  mode: CaMode;
  trustDomain: string;
  subject: string;
  notAfter: string;
  /** SHA-256 fingerprint of each root in the trust bundle. */
  rootFingerprints: string[];
  defaultTtl: string;
}

/** The public key types a workload CSR may carry. */
function checkCsrKey(spki: ArrayBuffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new BadRequestError('csr: the public key cannot be read');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return key;
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return key;
  throw new BadRequestError(
    `csr: key type ${key.asymmetricKeyType}${details.namedCurve ? ` ${details.namedCurve}` : ''}${details.modulusLength ? ` ${details.modulusLength} bits` : ''} is not accepted; use ECDSA P-256 (or RSA ≥ 2048)`,
  );
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  readonly #material: CaMaterial;
  readonly #issuer: x509.X509Certificate;
  readonly #now: () => number;
  readonly #bundle: string;

  private constructor(config: CertificateAuthorityConfig, material: CaMaterial, now: () => number) {
    this.trustDomain = config.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.defaultTtlMs = config.defaultTtlMs ?? DEFAULT_CERT_TTL_MS;
    this.maxTtlMs = Math.max(config.maxTtlMs ?? MAX_CERT_TTL_MS, this.defaultTtlMs);
    this.#material = material;
    this.#issuer = new x509.X509Certificate(material.signingCert.raw);
    this.#now = now;
    this.#bundle = joinPem(material.rootsPem);
  }

  /**
   * Loads the plug-in CA or the generated root (creating it on first start) and validates it.
   * Throws CaInvalidError (a user error) when the files cannot be used, BadRequestError for bad config values.
   */
  static async open(config: CertificateAuthorityConfig): Promise<CertificateAuthority> {
    const now = config.now ?? Date.now;
    const trustDomain = config.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    formatSpiffeId({ trustDomain, namespace: 'default', serviceAccount: 'default' }); // validates the trust domain
    const ttl = config.defaultTtlMs ?? DEFAULT_CERT_TTL_MS;
    if (ttl < MIN_CERT_TTL_MS || ttl > (config.maxTtlMs ?? MAX_CERT_TTL_MS))
      throw new BadRequestError(
        `certificate lifetime ${formatDuration(ttl)} is out of range (${formatDuration(MIN_CERT_TTL_MS)} to ${formatDuration(config.maxTtlMs ?? MAX_CERT_TTL_MS)})`,
      );
    const material = config.plugin
      ? await loadPluginCa(config.plugin, now())
      : await loadOrCreateRoot(join(config.dataDir, 'ca'), { trustDomain, now: now() });
    const ca = new CertificateAuthority(config, material, now);
    const log = logger({ component: 'ca' });
    log.info({ ...ca.info(), cert: material.files.cert }, 'certificate authority ready');
    const monthMs = 30 * 24 * 3_600_000;
    if (material.notAfter.getTime() - now() < monthMs)
      log.warn(
        { notAfter: material.notAfter.toISOString() },
        'the CA certificate expires within 30 days; plan a new one',
      );
    return ca;
  }

  /** The trust bundle: PEM of the root certificate(s) every workload trusts. */
  trustBundle(): string {
    return this.#bundle;
  }

  info(): CaInfo {
    return {
      mode: this.#material.mode,
      trustDomain: this.trustDomain,
      subject: subjectOf(this.#material.signingCert),
      notAfter: this.#material.notAfter.toISOString(),
      rootFingerprints: this.#material.rootsPem.map((pem) => new X509Certificate(pem).fingerprint256),
      defaultTtl: formatDuration(this.defaultTtlMs),
    };
  }

  /**
   * Signs a workload's CSR. Whatever subject or SANs the CSR asks for are ignored: the leaf
   * carries exactly one URI SAN, the SPIFFE ID of `identity` (which the caller takes from a
   * verified bootstrap token, never from the request). Throws BadRequestError for a CSR that does
   * not parse, does not verify or has an unaccepted key, or a lifetime out of range.
   */
  async sign(csrPem: string, identity: WorkloadIdentityClaim, ttlMs?: number): Promise<IssuedCertificate> {
    const spiffeId = formatSpiffeId({ trustDomain: this.trustDomain, ...identity });
    const ttl = ttlMs ?? this.defaultTtlMs;
    if (!Number.isFinite(ttl) || ttl < MIN_CERT_TTL_MS || ttl > this.maxTtlMs)
      throw new BadRequestError(
        `ttl: ${formatDuration(ttl)} is out of range (${formatDuration(MIN_CERT_TTL_MS)} to ${formatDuration(this.maxTtlMs)})`,
      );
    const csr = parseCsr(csrPem);
    checkCsrKey(csr.publicKey.rawData);
    let verified: boolean;
    try {
      verified = await csr.verify();
    } catch {
      verified = false;
    }
    if (!verified) throw new BadRequestError('csr: the signature does not verify with the CSR public key');

    const now = this.#now();
    const notBefore = new Date(now - CLOCK_SKEW_MS);
    const notAfter = new Date(Math.min(now + ttl, this.#material.notAfter.getTime()));
    const serialNumber = randomSerial();
    const issuerKeyId = this.#issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: '',
      issuer: this.#issuer.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: this.#material.signingKey.cryptoKey,
      signingAlgorithm: this.#material.signingKey.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        // An empty subject makes the SAN the certificate's only name, so it must be critical (RFC 5280 4.2.1.6).
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
        ...(issuerKeyId ? [new x509.AuthorityKeyIdentifierExtension(issuerKeyId)] : []),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      ],
    });
    return {
      certificateChainPem: joinPem([leaf.toString('pem'), ...this.#material.chainPem]),
      spiffeId,
      serialNumber,
      notBefore,
      notAfter,
    };
  }
}

function parseCsr(csrPem: string): x509.Pkcs10CertificateRequest {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_LENGTH)
    throw new BadRequestError(
      `csr: must be a PEM certificate request of at most ${MAX_CSR_LENGTH} characters`,
    );
  if (!csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----'))
    throw new BadRequestError(
      'csr: not a PEM certificate request (expected -----BEGIN CERTIFICATE REQUEST-----)',
    );
  try {
    return new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new BadRequestError(`csr: cannot be parsed (${err instanceof Error ? err.message : String(err)})`);
  }
}
