// x-forwarded-client-cert as Envoy's HCM sets it (forward_client_cert_details, set_current_client_cert_details).
import { checkFields, type Msg, msg, str, unsupported } from '../common/fields.ts';
import type { ClientCertFacts } from '../tls/connection-facts.ts';

export type { ClientCertFacts } from '../tls/connection-facts.ts';

/** envoy HCM `forward_client_cert_details`. */
export type XfccMode =
  | 'SANITIZE'
  | 'FORWARD_ONLY'
  | 'APPEND_FORWARD'
  | 'SANITIZE_SET'
  | 'ALWAYS_FORWARD_ONLY';

export interface XfccConfig {
  mode: XfccMode;
  /** `set_current_client_cert_details`: which facts of the verified client certificate are added. */
  subject: boolean;
  uri: boolean;
  dns: boolean;
}

/** Envoy's default: the header is removed from every request. */
export const SANITIZE_XFCC: XfccConfig = Object.freeze({
  mode: 'SANITIZE',
  subject: false,
  uri: false,
  dns: false,
});

const MODES: readonly XfccMode[] = [
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
];

/** Reads the HCM's XFCC fields (`cert` and `chain` are refused: weft does not embed PEM). */
export function compileXfcc(c: Msg, where: string): XfccConfig {
  const mode = str(c.forwardClientCertDetails) || 'SANITIZE';
  if (!(MODES as readonly string[]).includes(mode))
    unsupported(`${where}.forward_client_cert_details`, `'${mode}'`);
  const set = msg(c.setCurrentClientCertDetails);
  if (set) {
    const w = `${where}.set_current_client_cert_details`;
    checkFields(set, w, ['subject', 'uri', 'dns', 'cert', 'chain']);
    if (set.cert === true) unsupported(w, 'cert');
    if (set.chain === true) unsupported(w, 'chain');
  }
  const flag = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Msg).value === true : v === true);
  return {
    mode: mode as XfccMode,
    subject: flag(set?.subject),
    uri: set?.uri === true,
    dns: set?.dns === true,
  };
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The XFCC element for `peer`: `By=...;Hash=...;Subject="...";URI=...;DNS=...`. */
export function xfccElement(peer: ClientCertFacts, config: XfccConfig): string {
  let out = peer.localUri ? `By=${peer.localUri};Hash=${peer.hash}` : `Hash=${peer.hash}`;
  if (config.subject) out += `;Subject=${quoted(peer.subject)}`;
  if (config.uri) for (const uri of peer.uris) out += `;URI=${uri}`;
  if (config.dns) for (const name of peer.dns) out += `;DNS=${name}`;
  return out;
}

/** The element for `peer` under `config`, built on the connection's first request that needs it. */
function connectionElement(peer: ClientCertFacts, config: XfccConfig): string {
  const cached = peer.xfcc;
  if (cached !== undefined && cached.config === config) return cached.element;
  const element = xfccElement(peer, config);
  peer.xfcc = { config, element };
  return element;
}

/**
 * The XFCC value the request should carry upstream, or undefined to send none. `received` is what
 * the client sent; `peer` the verified client certificate (undefined: not mutual TLS). As Envoy:
 * without mutual TLS the header is removed in every mode but ALWAYS_FORWARD_ONLY.
 */
export function xfccValue(
  received: string | undefined,
  config: XfccConfig,
  peer: ClientCertFacts | undefined,
): string | undefined {
  if (config.mode === 'ALWAYS_FORWARD_ONLY') return received;
  if (peer === undefined || config.mode === 'SANITIZE') return undefined;
  if (config.mode === 'FORWARD_ONLY') return received;
  const element = connectionElement(peer, config);
  if (config.mode === 'SANITIZE_SET' || received === undefined || received === '') return element;
  return `${received},${element}`;
}
