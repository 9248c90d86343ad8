// Everything identity-related a control plane runs, opened in one call: the CA, bootstrap tokens, the operator token.
import { DEFAULT_TRUST_DOMAIN, type WorkloadIdentityClaim } from '../../identity/spiffe.ts';
import { CaApi } from './api.ts';
import { BootstrapTokens, type MintedToken } from './bootstrap-token.ts';
import { CertificateAuthority } from './certificate-authority.ts';
import { OperatorToken } from './operator-token.ts';
import type { PluginCaFiles } from './plugin-ca.ts';

/** The CA settings of a control plane (flags `--ca-cert`, `--ca-key`, `--ca-chain`, `--cert-ttl`). */
export interface CaOptions {
  /** The user's own CA; absent: a root generated in `<dataDir>/ca/`. */
  plugin?: PluginCaFiles;
  /** Default workload certificate lifetime (`--cert-ttl`), ms. Default 24 h. */
  certTtlMs?: number;
}

export interface CaServiceConfig extends CaOptions {
  /** The control plane's data directory. */
  dataDir: string;
  /** Trust domain of issued SPIFFE IDs. Default `cluster.local`. */
  trustDomain?: string;
}

/** The CA, token signers and HTTP handlers of one control plane. */
export class CaService {
  readonly authority: CertificateAuthority;
  readonly tokens: BootstrapTokens;
  readonly operatorToken: OperatorToken;
  /** Handlers for `/api/v1/certificates`, `/api/v1/trust-bundle`, `/api/v1/tokens`. */
  readonly api: CaApi;

  private constructor(
    authority: CertificateAuthority,
    tokens: BootstrapTokens,
    operatorToken: OperatorToken,
  ) {
    this.authority = authority;
    this.tokens = tokens;
    this.operatorToken = operatorToken;
    this.api = new CaApi({ ca: authority, tokens, operatorToken });
  }

  /** Loads or creates the CA, the token key and the operator token. Throws CaInvalidError for unusable CA files. */
  static async open(config: CaServiceConfig): Promise<CaService> {
    const authority = await CertificateAuthority.open({
      dataDir: config.dataDir,
      trustDomain: config.trustDomain ?? DEFAULT_TRUST_DOMAIN,
      defaultTtlMs: config.certTtlMs,
      plugin: config.plugin,
    });
    const tokens = await BootstrapTokens.open(config.dataDir);
    const operatorToken = await OperatorToken.open(config.dataDir);
    return new CaService(authority, tokens, operatorToken);
  }

  /** Mints a bootstrap token in-process (for `weft run` / `weft demo`, which start their own sidecars). */
  mintToken(identity: WorkloadIdentityClaim, ttlMs?: number): MintedToken {
    return this.tokens.mint(identity, ttlMs);
  }

  /** The trust bundle (PEM roots). */
  trustBundle(): string {
    return this.authority.trustBundle();
  }
}
