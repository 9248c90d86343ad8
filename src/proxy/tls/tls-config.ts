// Envoy's TLS transport sockets compiled: DownstreamTlsContext, UpstreamTlsContext, transport_socket_matches.
//
// `compileDownstreamTransportSocket` (listener filter chains) and `compileUpstreamTransportSocket` /
// `compileTransportSocketMatches` (clusters) turn the decoded xDS messages (camelCase, see
// docs/xds.md) into plain data: no SecureContext, no key material from SDS (only secret names),
// so configs compare with JSON and are cheap to keep. Certificates come from SDS secret names
// (resolved by the proxy's SecretStore, e.g. Istio's `default` and `ROOTCA`) or from data sources
// (`inline_string`, `inline_bytes`, `filename`, read here once). A field weft cannot honour is a
// NACK naming it, as everywhere in the proxy. The runtimes are in downstream.ts and upstream.ts.
import { createSecureContext } from 'node:tls';
import { UnsupportedFieldError } from '../../errors.ts';
import { checkFields, list, type Msg, msg, str, unsupported, wrappedBool } from '../common/fields.ts';
import { compileStringMatcher, type StringMatcher } from '../http/router/matchers.ts';
import { readTlsFile } from './tls-files.ts';

export const TLS_TRANSPORT_SOCKET_NAME = 'envoy.transport_sockets.tls';
export const RAW_BUFFER_TRANSPORT_SOCKET_NAME = 'envoy.transport_sockets.raw_buffer';
export const DOWNSTREAM_TLS_CONTEXT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const UPSTREAM_TLS_CONTEXT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const RAW_BUFFER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
/** The endpoint metadata namespace `transport_socket_matches` look at (Envoy's name). */
export const TRANSPORT_SOCKET_MATCH_METADATA = 'envoy.transport_socket_match';

/** A certificate and key: an SDS name, or PEM read from a data source. */
export type CertificateSource =
  | { kind: 'sds'; name: string }
  | { kind: 'inline'; certChainPem: string; privateKeyPem: string; passphrase?: string };

/** Where trusted roots come from. */
export type TrustSource =
  | { kind: 'sds'; name: string }
  | { kind: 'inline'; trustedCaPem: string }
  /** The operating system's roots (`system_root_certs`). */
  | { kind: 'system' };

/** One `SubjectAltNameMatcher` (or a legacy `match_subject_alt_names` entry, `sanType` 'ANY'). */
export interface SanMatcherConfig {
  sanType: 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS' | 'ANY';
  matcher: StringMatcher;
}

/** CertificateValidationContext (possibly combined with an SDS one), compiled. */
export interface ValidationConfig {
  /** Roots to verify the peer against. */
  trust: TrustSource;
  /** The peer certificate must have a SAN matching one of these (none: any SAN). */
  sanMatchers: SanMatcherConfig[];
}

/** Node's names for Envoy's TlsProtocol values. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** CommonTlsContext, compiled. */
export interface CommonTlsConfig {
  /** Lowest TLS version (`TLS_AUTO`: Node's default, TLS 1.2). */
  minVersion?: TlsVersion;
  /** Highest TLS version (`TLS_AUTO`: TLS 1.3). */
  maxVersion?: TlsVersion;
  /** OpenSSL cipher list (`cipher_suites` joined by ':'), when given. */
  ciphers?: string;
  /** `ecdh_curves` joined by ':', when given. */
  ecdhCurve?: string;
  /** The certificate this side presents (Envoy allows several; weft takes one). */
  certificate?: CertificateSource;
  /** Peer verification; absent: the peer's certificate is not verified (Envoy's default). */
  validation?: ValidationConfig;
  /** ALPN protocols offered (client) or accepted, in preference order (server). */
  alpn: string[];
}

/** DownstreamTlsContext, compiled (TLS termination on a listener's filter chain). */
export interface DownstreamTlsConfig {
  common: CommonTlsConfig;
  /** A client certificate is required (and verified against `common.validation`). */
  requireClientCertificate: boolean;
  /** Refuse clients that send no SNI. */
  requireSni: boolean;
  /** TLS session lifetime for resumption, in seconds (undefined: Node's 300 s). */
  sessionTimeoutS?: number;
}

/** UpstreamTlsContext, compiled (TLS origination by a cluster). */
export interface UpstreamTlsConfig {
  common: CommonTlsConfig;
  /** SNI sent to the upstream (absent: none). */
  sni?: string;
}

/** One `transport_socket_matches` entry: endpoints whose metadata contains `match` use `tls` (undefined: plaintext). */
export interface TransportSocketMatchConfig {
  name: string;
  match: Record<string, string>;
  tls?: UpstreamTlsConfig;
}

const TLS_VERSIONS: Record<string, TlsVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

const SAN_TYPES = new Set(['URI', 'DNS', 'EMAIL', 'IP_ADDRESS']);

/**
 * A `transport_socket` on a filter chain: a DownstreamTlsContext, or undefined for none or
 * `raw_buffer` (plaintext).
 */
export function compileDownstreamTransportSocket(
  ts: Msg | undefined,
  where: string,
): DownstreamTlsConfig | undefined {
  const tc = transportSocketConfig(ts, where, DOWNSTREAM_TLS_CONTEXT_TYPE_URL);
  if (!tc) return undefined;
  const w = `${where}.typed_config`;
  checkFields(tc, w, [
    'commonTlsContext',
    'requireClientCertificate',
    'requireSni',
    'sessionTimeout',
    'disableStatelessSessionResumption',
    'disableStatefulSessionResumption',
    'ocspStaplePolicy',
    'fullScanCertsOnSniMismatch',
    'preferClientCiphers',
  ]);
  if (str(tc.ocspStaplePolicy) !== '' && str(tc.ocspStaplePolicy) !== 'LENIENT_STAPLING')
    unsupported(`${w}.ocsp_staple_policy`, `OCSP stapling policy ${str(tc.ocspStaplePolicy)}`);
  const common = compileCommon(msg(tc.commonTlsContext) ?? {}, `${w}.common_tls_context`);
  if (!common.certificate)
    unsupported(`${w}.common_tls_context`, 'a DownstreamTlsContext without a certificate');
  const requireClientCertificate = wrappedBool(tc.requireClientCertificate, false);
  if (requireClientCertificate && !common.validation)
    unsupported(w, 'require_client_certificate without a validation context');
  const session = msg(tc.sessionTimeout);
  return {
    common,
    requireClientCertificate,
    requireSni: wrappedBool(tc.requireSni, false),
    sessionTimeoutS: session ? Math.max(1, Number(session.seconds ?? 0)) : undefined,
  };
}

/** A cluster's `transport_socket`: an UpstreamTlsContext, or undefined for none or `raw_buffer`. */
export function compileUpstreamTransportSocket(
  ts: Msg | undefined,
  where: string,
): UpstreamTlsConfig | undefined {
  const tc = transportSocketConfig(ts, where, UPSTREAM_TLS_CONTEXT_TYPE_URL);
  if (!tc) return undefined;
  const w = `${where}.typed_config`;
  checkFields(tc, w, [
    'commonTlsContext',
    'sni',
    'allowRenegotiation',
    'maxSessionKeys',
    'enforceRsaKeyUsage',
    'autoHostSni',
    'autoSniSanValidation',
  ]);
  if (tc.autoHostSni === true) unsupported(`${w}.auto_host_sni`, 'auto_host_sni');
  if (tc.autoSniSanValidation === true)
    unsupported(`${w}.auto_sni_san_validation`, 'auto_sni_san_validation');
  const sni = str(tc.sni);
  return {
    common: compileCommon(msg(tc.commonTlsContext) ?? {}, `${w}.common_tls_context`),
    sni: sni === '' ? undefined : sni,
  };
}

/** A cluster's `transport_socket_matches`, in order (the first whose `match` the endpoint metadata contains wins). */
export function compileTransportSocketMatches(value: unknown, where: string): TransportSocketMatchConfig[] {
  return list(value).map((m, i) => {
    const w = `${where}[${i}]`;
    checkFields(m, w, ['name', 'match', 'transportSocket']);
    return {
      name: str(m.name),
      match: structStrings(msg(m.match), `${w}.match`),
      tls: compileUpstreamTransportSocket(msg(m.transportSocket), `${w}.transport_socket`),
    };
  });
}

/**
 * Envoy's choice of transport socket for one endpoint: the first match whose labels the endpoint's
 * `envoy.transport_socket_match` metadata contains, else the cluster's own `transport_socket`.
 */
export function selectUpstreamTls(
  matches: readonly TransportSocketMatchConfig[],
  fallback: UpstreamTlsConfig | undefined,
  endpointMetadata: Readonly<Record<string, string>> | undefined,
): UpstreamTlsConfig | undefined {
  for (const m of matches) {
    let all = true;
    for (const [k, v] of Object.entries(m.match))
      if (endpointMetadata?.[k] !== v) {
        all = false;
        break;
      }
    if (all) return m.tls;
  }
  return fallback;
}

/** The string values of a decoded google.protobuf.Struct (`{fields: {k: {stringValue}}}`). */
export function structStrings(struct: Msg | undefined, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const fields = msg(struct?.fields) ?? {};
  for (const [key, value] of Object.entries(fields)) {
    const v = msg(value);
    if (typeof v?.stringValue === 'string') out[key] = v.stringValue;
    else if (typeof v?.boolValue === 'boolean' || typeof v?.numberValue === 'number')
      out[key] = String(v.boolValue ?? v.numberValue);
    else unsupported(`${where}.${key}`, 'a match value that is not a string');
  }
  return out;
}

/** The typed_config of a TLS transport socket; undefined for absent or raw_buffer sockets. */
function transportSocketConfig(ts: Msg | undefined, where: string, typeUrl: string): Msg | undefined {
  if (!ts) return undefined;
  checkFields(ts, where, ['name', 'typedConfig']);
  const tc = msg(ts.typedConfig);
  const type = str(tc?.['@type']);
  const name = str(ts.name);
  if (type === RAW_BUFFER_TYPE_URL || (!tc && name === RAW_BUFFER_TRANSPORT_SOCKET_NAME)) return undefined;
  if (type !== typeUrl) unsupported(where, `transport socket '${name}' (${type || 'no typed_config'})`);
  return tc;
}

function compileCommon(c: Msg, where: string): CommonTlsConfig {
  checkFields(c, where, [
    'tlsParams',
    'tlsCertificates',
    'tlsCertificateSdsSecretConfigs',
    'validationContext',
    'validationContextSdsSecretConfig',
    'combinedValidationContext',
    'alpnProtocols',
  ]);
  const out: CommonTlsConfig = {
    alpn: Array.isArray(c.alpnProtocols) ? (c.alpnProtocols as string[]) : [],
  };
  const params = msg(c.tlsParams);
  if (params) {
    const pw = `${where}.tls_params`;
    checkFields(params, pw, [
      'tlsMinimumProtocolVersion',
      'tlsMaximumProtocolVersion',
      'cipherSuites',
      'ecdhCurves',
    ]);
    out.minVersion = TLS_VERSIONS[str(params.tlsMinimumProtocolVersion) || 'TLS_AUTO'];
    out.maxVersion = TLS_VERSIONS[str(params.tlsMaximumProtocolVersion) || 'TLS_AUTO'];
    const ciphers = Array.isArray(params.cipherSuites) ? (params.cipherSuites as string[]) : [];
    const curves = Array.isArray(params.ecdhCurves) ? (params.ecdhCurves as string[]) : [];
    if (ciphers.length > 0) out.ciphers = ciphers.join(':');
    if (curves.length > 0) out.ecdhCurve = curves.join(':');
    if (out.ciphers || out.ecdhCurve) {
      try {
        createSecureContext({ ciphers: out.ciphers, ecdhCurve: out.ecdhCurve });
      } catch (err) {
        rejected(pw, `cipher_suites/ecdh_curves refused by OpenSSL (${(err as Error).message})`);
      }
    }
  }
  const inline = list(c.tlsCertificates);
  const sds = list(c.tlsCertificateSdsSecretConfigs);
  if (inline.length + sds.length > 1)
    unsupported(where, 'more than one certificate (tls_certificates + tls_certificate_sds_secret_configs)');
  if (inline.length === 1) out.certificate = compileTlsCertificate(inline[0], `${where}.tls_certificates[0]`);
  if (sds.length === 1)
    out.certificate = {
      kind: 'sds',
      name: sdsName(sds[0], `${where}.tls_certificate_sds_secret_configs[0]`),
    };
  const plain = msg(c.validationContext);
  const sdsValidation = msg(c.validationContextSdsSecretConfig);
  const combined = msg(c.combinedValidationContext);
  if (plain) out.validation = compileValidation(plain, `${where}.validation_context`, undefined);
  else if (sdsValidation)
    out.validation = {
      trust: { kind: 'sds', name: sdsName(sdsValidation, `${where}.validation_context_sds_secret_config`) },
      sanMatchers: [],
    };
  else if (combined) {
    const cw = `${where}.combined_validation_context`;
    checkFields(combined, cw, ['defaultValidationContext', 'validationContextSdsSecretConfig']);
    const ref = msg(combined.validationContextSdsSecretConfig);
    if (!ref) unsupported(cw, 'a combined validation context without validation_context_sds_secret_config');
    const name = sdsName(ref, `${cw}.validation_context_sds_secret_config`);
    out.validation = compileValidation(
      msg(combined.defaultValidationContext) ?? {},
      `${cw}.default_validation_context`,
      {
        kind: 'sds',
        name,
      },
    );
  }
  return out;
}

function sdsName(ref: Msg, where: string): string {
  // The sds_config (ADS, or Istio's local agent) is not consulted: a weft proxy resolves secret
  // names from its own SecretStore (see secrets.ts).
  checkFields(ref, where, ['name', 'sdsConfig']);
  const name = str(ref.name);
  if (name === '') unsupported(where, 'an SDS secret config without a name');
  return name;
}

function compileTlsCertificate(t: Msg, where: string): CertificateSource {
  checkFields(t, where, ['certificateChain', 'privateKey', 'password']);
  const certChainPem = dataSource(msg(t.certificateChain), `${where}.certificate_chain`);
  const privateKeyPem = dataSource(msg(t.privateKey), `${where}.private_key`);
  const password = msg(t.password) ? dataSource(msg(t.password), `${where}.password`) : undefined;
  try {
    createSecureContext({ cert: certChainPem, key: privateKeyPem, passphrase: password });
  } catch (err) {
    rejected(where, `the certificate and key do not load (${(err as Error).message})`);
  }
  return {
    kind: 'inline',
    certChainPem,
    privateKeyPem,
    ...(password === undefined ? {} : { passphrase: password }),
  };
}

function compileValidation(
  v: Msg,
  where: string,
  sdsTrust: TrustSource | undefined,
): ValidationConfig | undefined {
  checkFields(v, where, [
    'trustedCa',
    'systemRootCerts',
    'matchTypedSubjectAltNames',
    'matchSubjectAltNames',
    'maxVerifyDepth',
  ]);
  let trust = sdsTrust;
  if (msg(v.trustedCa)) {
    if (trust) unsupported(where, 'trusted_ca together with validation_context_sds_secret_config');
    const pem = dataSource(msg(v.trustedCa), `${where}.trusted_ca`);
    try {
      createSecureContext({ ca: pem });
    } catch (err) {
      rejected(`${where}.trusted_ca`, `the CA certificates do not load (${(err as Error).message})`);
    }
    trust = { kind: 'inline', trustedCaPem: pem };
  } else if (msg(v.systemRootCerts)) trust ??= { kind: 'system' };
  const sanMatchers: SanMatcherConfig[] = [];
  for (const [i, m] of list(v.matchTypedSubjectAltNames).entries()) {
    const mw = `${where}.match_typed_subject_alt_names[${i}]`;
    checkFields(m, mw, ['sanType', 'matcher']);
    const sanType = str(m.sanType);
    if (!SAN_TYPES.has(sanType)) unsupported(`${mw}.san_type`, `SAN type '${sanType || 'unspecified'}'`);
    sanMatchers.push({
      sanType: sanType as SanMatcherConfig['sanType'],
      matcher: compileStringMatcher(msg(m.matcher) ?? {}, `${mw}.matcher`),
    });
  }
  for (const [i, m] of list(v.matchSubjectAltNames).entries())
    sanMatchers.push({
      sanType: 'ANY',
      matcher: compileStringMatcher(m, `${where}.match_subject_alt_names[${i}]`),
    });
  if (!trust) {
    // Envoy: an empty validation context verifies nothing; SAN matching needs trusted roots.
    if (sanMatchers.length > 0)
      rejected(where, 'subject alt name matching needs trusted_ca (the peer chain would not be verified)');
    return undefined;
  }
  return { trust, sanMatchers };
}

/** Refuses a config whose values are wrong (rather than unsupported), with the reason. */
function rejected(where: string, why: string): never {
  throw new UnsupportedFieldError(`${where}: ${why}`);
}

/** The bytes of an envoy.config.core.v3.DataSource as text (PEM). */
function dataSource(d: Msg | undefined, where: string): string {
  if (!d) return unsupported(where, 'an empty data source');
  checkFields(d, where, ['filename', 'inlineString', 'inlineBytes']);
  if (typeof d.inlineString === 'string' && d.inlineString !== '') return d.inlineString;
  if (typeof d.inlineBytes === 'string' && d.inlineBytes !== '')
    return Buffer.from(d.inlineBytes, 'base64').toString('utf8');
  if (d.inlineBytes instanceof Uint8Array) return Buffer.from(d.inlineBytes).toString('utf8');
  const file = str(d.filename);
  if (file === '') return unsupported(where, 'an empty data source');
  const read = readTlsFile(file);
  return 'pem' in read ? read.pem : rejected(where, read.error);
}
