// A compiled CommonTlsConfig made live: Node SecureContext options from its secrets, rebuilt when a secret rotates.
import {
  DEFAULT_CIPHERS,
  getCACertificates,
  rootCertificates,
  type SecureContext,
  type SecureContextOptions,
} from 'node:tls';
import { TlsSecretMissingError } from '../../errors.ts';
import type { SecretStore } from './secrets.ts';
import type { CommonTlsConfig, TrustSource } from './tls-config.ts';

/**
 * TLS 1.3 suites, AES-128-GCM first as Envoy (BoringSSL) orders them on hardware with AES
 * instructions: OpenSSL's default puts AES-256-GCM first, which costs more CPU per byte for no
 * practical gain on the mesh hop. A server picks by its own order; a peer that offers only
 * AES-256-GCM or ChaCha20-Poly1305 still gets it (docs/security.md).
 */
export const TLS13_CIPHER_SUITES =
  'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** Node's default TLS 1.2 cipher list (its TLS 1.3 suites are ordered by TLS13_CIPHER_SUITES). */
const TLS12_DEFAULT_CIPHERS = DEFAULT_CIPHERS.split(':')
  .filter((c) => !c.startsWith('TLS_'))
  .join(':');

/**
 * Node's `ciphers` option for a config's `tls_params.cipher_suites` (TLS 1.2 names, as Envoy's):
 * TLS13_CIPHER_SUITES first; a list that names TLS 1.3 suites itself is taken as it is.
 */
export function cipherList(configured: string | undefined): string {
  if (configured?.split(':').some((name) => name.startsWith('TLS_'))) return configured;
  return `${TLS13_CIPHER_SUITES}:${configured ?? TLS12_DEFAULT_CIPHERS}`;
}

/** The OS roots (Envoy's `system_root_certs`), else Node's bundled Mozilla roots; read once. */
let systemRoots: readonly string[] | undefined;

function systemCertificates(): readonly string[] {
  if (systemRoots === undefined) {
    let roots: readonly string[] = [];
    try {
      roots = getCACertificates('system');
    } catch {
      // older Node: no access to the OS store
    }
    systemRoots = roots.length > 0 ? roots : rootCertificates;
  }
  return systemRoots;
}

/**
 * Resolves the secrets a TLS config names and keeps a SecureContext for them. `options()` and
 * `context()` rebuild only when a referenced secret's version changed (a rotation), so calling
 * them per connection is cheap; handshakes already done keep the context they used.
 */
export class TlsContextSource {
  private readonly common: CommonTlsConfig;
  private readonly secrets: SecretStore;
  /** Where the config came from, for error messages (`Listener inbound.filter_chains[0]`). */
  private readonly where: string;
  private versionKey = '';
  private cachedOptions: SecureContextOptions | undefined;
  private cachedContext: SecureContext | undefined;

  constructor(common: CommonTlsConfig, secrets: SecretStore, where: string) {
    this.common = common;
    this.secrets = secrets;
    this.where = where;
  }

  /** SDS names this config needs that the store does not have (checked before a config is accepted). */
  missingSecrets(): string[] {
    return sdsNames(this.common).filter((name) => !this.secrets.has(name));
  }

  /** A key that changes whenever a referenced secret changes. */
  private currentKey(): string {
    let key = '';
    for (const name of sdsNames(this.common)) key += `${name}@${this.secrets.get(name)?.version ?? 0};`;
    return key;
  }

  /** True when the secrets changed since the last `options()`/`context()`. */
  get stale(): boolean {
    return this.cachedOptions === undefined || this.currentKey() !== this.versionKey;
  }

  /** SecureContext options for the current secrets (throws TlsSecretMissingError when one is absent). */
  options(): SecureContextOptions {
    const key = this.currentKey();
    if (this.cachedOptions && key === this.versionKey) return this.cachedOptions;
    const c = this.common;
    const opts: SecureContextOptions = {};
    if (c.minVersion) opts.minVersion = c.minVersion;
    if (c.maxVersion) opts.maxVersion = c.maxVersion;
    opts.ciphers = cipherList(c.ciphers);
    if (c.ecdhCurve) opts.ecdhCurve = c.ecdhCurve;
    const cert = c.certificate;
    if (cert?.kind === 'inline') {
      opts.cert = cert.certChainPem;
      opts.key = cert.privateKeyPem;
      if (cert.passphrase !== undefined) opts.passphrase = cert.passphrase;
    } else if (cert?.kind === 'sds') {
      const stored = this.secrets.get(cert.name);
      if (stored?.secret.kind !== 'tls_certificate')
        throw new TlsSecretMissingError(`${this.where}: no TLS certificate secret named '${cert.name}'`);
      opts.cert = stored.secret.certChainPem;
      opts.key = stored.secret.privateKeyPem;
    }
    if (c.validation) opts.ca = this.trustedCa(c.validation.trust);
    this.cachedOptions = opts;
    this.cachedContext = undefined;
    this.versionKey = key;
    return opts;
  }

  /**
   * A SecureContext for the current secrets, shared by every connection until the next rotation,
   * and by every other config of the same store with the same options (SecretStore.secureContext).
   */
  context(): SecureContext {
    const opts = this.options();
    this.cachedContext ??= this.secrets.secureContext(opts);
    return this.cachedContext;
  }

  private trustedCa(trust: TrustSource): string | string[] {
    if (trust.kind === 'inline') return trust.trustedCaPem;
    if (trust.kind === 'system') return [...systemCertificates()];
    const stored = this.secrets.get(trust.name);
    if (stored?.secret.kind !== 'validation_context')
      throw new TlsSecretMissingError(`${this.where}: no validation context secret named '${trust.name}'`);
    return stored.secret.trustedCaPem;
  }
}

/** The SDS secret names a config refers to. */
export function sdsNames(common: CommonTlsConfig): string[] {
  const names: string[] = [];
  if (common.certificate?.kind === 'sds') names.push(common.certificate.name);
  if (common.validation?.trust.kind === 'sds') names.push(common.validation.trust.name);
  return names;
}

/**
 * Throws TlsSecretMissingError (the proxy NACKs) when one of `configs` names an SDS secret the
 * store does not have. `where` names the resource (`Listener inbound`, `Cluster outbound|80||a`).
 */
export function requireSecrets(
  store: SecretStore,
  where: string,
  configs: readonly (CommonTlsConfig | undefined)[],
): void {
  const missing = new Set<string>();
  for (const c of configs) if (c) for (const name of sdsNames(c)) if (!store.has(name)) missing.add(name);
  if (missing.size > 0)
    throw new TlsSecretMissingError(
      `${where}: TLS secret${missing.size > 1 ? 's' : ''} ${[...missing].map((n) => `'${n}'`).join(', ')} not available on this proxy (a weft proxy has 'default' and 'ROOTCA' once it has a workload identity)`,
    );
}
