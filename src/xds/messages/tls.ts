// Typed shapes of `envoy.extensions.transport_sockets.tls.v3` (TLS contexts, SDS references, Secret) and the transport sockets.
import type { CONFIG_TYPE, Typed } from '../type-urls.ts';
import type { BoolValue, ConfigSource, DataSource, Empty, StringMatcher } from './core.ts';

/** TLS versions by Envoy's enum names. */
export type TlsVersion = 'TLS_AUTO' | 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3';

/** `TlsParameters`. */
export type TlsParameters = {
  tls_minimum_protocol_version?: TlsVersion;
  tls_maximum_protocol_version?: TlsVersion;
};

/** `TlsCertificate` from files (or inline, in a Secret). */
export type TlsCertificate = { certificate_chain: DataSource; private_key: DataSource };

/** `SdsSecretConfig`: a secret by name over ADS. */
export type SdsSecretConfig = { name: string; sds_config: ConfigSource };

/** `SubjectAltNameMatcher`. */
export type SubjectAltNameMatcher = {
  san_type: 'EMAIL' | 'DNS' | 'URI' | 'IP_ADDRESS';
  matcher: StringMatcher;
};

/** `CertificateProviderPluginInstance`: certificates from a provider the client's bootstrap names (gRPC, gRFC A29). */
export type CertificateProviderPluginInstance = { instance_name: string; certificate_name?: string };

/** `CertificateValidationContext`. */
export type CertificateValidationContext = {
  trusted_ca?: DataSource;
  ca_certificate_provider_instance?: CertificateProviderPluginInstance;
  system_root_certs?: Empty;
  match_typed_subject_alt_names?: SubjectAltNameMatcher[];
  match_subject_alt_names?: StringMatcher[];
};

/** `CommonTlsContext`. */
export type CommonTlsContext = {
  tls_params?: TlsParameters;
  tls_certificates?: TlsCertificate[];
  tls_certificate_sds_secret_configs?: SdsSecretConfig[];
  tls_certificate_provider_instance?: CertificateProviderPluginInstance;
  validation_context?: CertificateValidationContext;
  combined_validation_context?: {
    default_validation_context: CertificateValidationContext;
    validation_context_sds_secret_config: SdsSecretConfig;
  };
  alpn_protocols?: string[];
};

/** `UpstreamTlsContext`. */
export type UpstreamTlsContext = { sni?: string; common_tls_context: CommonTlsContext };
/** `DownstreamTlsContext`. */
export type DownstreamTlsContext = {
  common_tls_context: CommonTlsContext;
  require_client_certificate?: BoolValue;
};

/** `Secret` (SDS): a certificate or a validation context, by name. */
export type Secret = { name: string } & (
  | { tls_certificate: TlsCertificate }
  | { validation_context: CertificateValidationContext }
);

/** `config.core.v3.TransportSocket`: TLS (either side) or plaintext. */
export type TransportSocket = {
  name: string;
  typed_config:
    | Typed<typeof CONFIG_TYPE.upstreamTlsContext, UpstreamTlsContext>
    | Typed<typeof CONFIG_TYPE.downstreamTlsContext, DownstreamTlsContext>
    | Typed<typeof CONFIG_TYPE.rawBuffer, Empty>;
};
