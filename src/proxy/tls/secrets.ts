// The proxy's TLS secrets by SDS name: the workload's certificate (`default`) and trust bundle (`ROOTCA`), and any other named secret.
//
// Envoy's transport sockets name their certificates through SDS (`tls_certificate_sds_secret_configs`,
// `validation_context_sds_secret_config`). A weft proxy resolves those names here, locally: the
// workload identity (src/identity/workload-identity.ts) keeps its private key in this process and
// fills `default` and `ROOTCA`; the control plane only references the names and never sends a key.
// Each `set` bumps the secret's version, which is how TLS contexts notice a rotation (they rebuild
// their SecureContext lazily, for new handshakes only; open connections keep their session).
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { IdentitySnapshot, WorkloadIdentity } from '../../identity/workload-identity.ts';

/** Istio's SDS name of the workload certificate chain and key. */
export const WORKLOAD_CERT_SECRET = 'default';
/** Istio's SDS name of the mesh trust bundle. */
export const ROOT_CA_SECRET = 'ROOTCA';

/** A certificate chain and its private key (Envoy's `TlsCertificate`). */
export interface TlsCertificateSecret {
  readonly kind: 'tls_certificate';
  /** PEM, leaf first. */
  readonly certChainPem: string;
  /** PEM private key (PKCS#8, SEC1 or PKCS#1). Never logged, never sent. */
  readonly privateKeyPem: string;
}

/** Trusted roots to verify peers against (Envoy's `CertificateValidationContext.trusted_ca`). */
export interface ValidationContextSecret {
  readonly kind: 'validation_context';
  /** PEM of one or more CA certificates. */
  readonly trustedCaPem: string;
}

export type TlsSecret = TlsCertificateSecret | ValidationContextSecret;

/** A stored secret with what the admin port reports about it. */
export interface StoredSecret {
  readonly secret: TlsSecret;
  /** Bumped by every `set` of this name (starts at 1). */
  readonly version: number;
  /** The earliest notAfter among the secret's certificates (leaf or roots), when they parse. */
  readonly expiresAt?: Date;
  /** Hex serial number of the first certificate (the leaf of a chain). */
  readonly serialNumber?: string;
}

/** Named TLS secrets of one proxy process. */
export class SecretStore {
  private readonly secrets = new Map<string, StoredSecret>();
  /**
   * Client SecureContexts by a hash of their options: every cluster with the same TLS settings
   * (all the mesh's, with the workload certificate) uses one OpenSSL context, ~40 KB with its
   * parsed certificate, key and roots, instead of one each. Emptied when a secret changes.
   */
  private readonly contexts = new Map<string, SecureContext>();

  /** Adds or replaces a secret; TLS contexts that use it switch to it for new handshakes. */
  set(name: string, secret: TlsSecret): void {
    this.contexts.clear();
    const pem = secret.kind === 'tls_certificate' ? secret.certChainPem : secret.trustedCaPem;
    const facts = certificateFacts(pem);
    this.secrets.set(name, { secret, version: (this.secrets.get(name)?.version ?? 0) + 1, ...facts });
  }

  get(name: string): StoredSecret | undefined {
    return this.secrets.get(name);
  }

  /** A SecureContext for `options` (resolved from these secrets), shared by every caller giving the same. */
  secureContext(options: SecureContextOptions): SecureContext {
    const key = createHash('sha256').update(JSON.stringify(options)).digest('base64');
    let context = this.contexts.get(key);
    if (!context) {
      context = createSecureContext(options);
      this.contexts.set(key, context);
    }
    return context;
  }

  has(name: string): boolean {
    return this.secrets.has(name);
  }

  /**
   * Every secret with its material, to hand to this proxy's own worker processes (multi-core
   * mode, over the IPC channel). Never send this anywhere else.
   */
  secretsToShare(): [string, TlsSecret][] {
    return [...this.secrets.entries()].map(([name, stored]) => [name, stored.secret]);
  }

  /** Names and facts of every secret (no key material), for /stats/prometheus. */
  entries(): [string, StoredSecret][] {
    return [...this.secrets.entries()];
  }
}

/** The PEM certificate blocks of a bundle (without loading an X.509 library). */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificateFacts(pem: string): { expiresAt?: Date; serialNumber?: string } {
  let expiresAt: Date | undefined;
  let serialNumber: string | undefined;
  for (const one of pem.match(PEM_CERTIFICATE) ?? []) {
    try {
      const cert = new X509Certificate(one);
      serialNumber ??= cert.serialNumber;
      if (!expiresAt || cert.validToDate < expiresAt) expiresAt = cert.validToDate;
    } catch {
      // not a certificate we can read: no facts for it
    }
  }
  return { expiresAt, serialNumber };
}

/** Puts a workload identity snapshot under the two Istio names. */
export function storeIdentity(store: SecretStore, snapshot: IdentitySnapshot): void {
  store.set(WORKLOAD_CERT_SECRET, {
    kind: 'tls_certificate',
    certChainPem: snapshot.certChainPem,
    privateKeyPem: snapshot.keyPem,
  });
  store.set(ROOT_CA_SECRET, { kind: 'validation_context', trustedCaPem: snapshot.trustBundlePem });
}

/**
 * Serves `default` and `ROOTCA` from a started WorkloadIdentity, now and after every rotation.
 * Returns the function that stops following it.
 */
export function followIdentity(store: SecretStore, identity: WorkloadIdentity): () => void {
  storeIdentity(store, identity.current());
  return identity.onRotate((snapshot) => storeIdentity(store, snapshot));
}
