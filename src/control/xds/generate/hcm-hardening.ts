// HTTP connection manager settings every weft HCM carries: Istio's path normalisation and XFCC handling.
import type { MeshSettings } from '../../../model/types.ts';
import type { HttpConnectionManager } from '../../../xds/messages/index.ts';

type HardeningFields = Pick<
  HttpConnectionManager,
  | 'normalize_path'
  | 'merge_slashes'
  | 'path_with_escaped_slashes_action'
  | 'forward_client_cert_details'
  | 'set_current_client_cert_details'
>;

/** meshConfig.pathNormalization as Istio translates it for Envoy. */
function pathFields(mesh: MeshSettings): HardeningFields {
  switch (mesh.pathNormalization) {
    case 'NONE':
      return { normalize_path: { value: false } };
    case 'BASE':
      return { normalize_path: { value: true } };
    case 'MERGE_SLASHES':
      return { normalize_path: { value: true }, merge_slashes: true };
    case 'DECODE_AND_MERGE_SLASHES':
      return {
        normalize_path: { value: true },
        merge_slashes: true,
        path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
      };
  }
}

/**
 * Istio's XFCC defaults: a sidecar's inbound appends the verified peer (APPEND_FORWARD with
 * Subject, URI and DNS), its outbound and a gateway set only what they verified themselves
 * (SANITIZE / SANITIZE_SET): what an app or a client sends in the header is never passed on.
 */
function xfccFields(where: 'inbound' | 'outbound' | 'gateway'): HardeningFields {
  if (where === 'outbound') return { forward_client_cert_details: 'SANITIZE' };
  return {
    forward_client_cert_details: where === 'inbound' ? 'APPEND_FORWARD' : 'SANITIZE_SET',
    set_current_client_cert_details: { subject: { value: true }, uri: true, dns: true },
  };
}

/** The hardening fields of an HCM on a sidecar's inbound or outbound listener, or on a gateway. */
export function hcmHardening(mesh: MeshSettings, where: 'inbound' | 'outbound' | 'gateway'): HardeningFields {
  return { ...pathFields(mesh), ...xfccFields(where) };
}
