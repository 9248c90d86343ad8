// The security part of /stats/prometheus: RBAC, jwt_authn and TLS counters (Envoy's names), certificate expiry gauges.

import { jwksFetchStats } from '../http/filters/jwt-authn/jwks-source.ts';
import { allJwtAuthnStats } from '../http/filters/jwt-authn/jwt-authn-filter.ts';
import { allRbacStats } from '../http/filters/rbac/rbac-stats.ts';
import { NETWORK_RBAC_STATS } from '../listener/network-rbac-filter.ts';
import type { SecretStore } from '../tls/secrets.ts';
import { allTlsStats, type TlsStats } from '../tls/tls-stats.ts';

/** Metric families whose samples are state, not counts: merged with max across workers. */
export const SECURITY_GAUGES = /^weft_cert_|^envoy_server_days_until_first_cert_expiring/;

function labels(l: Record<string, string>): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

class Lines {
  private out = '';
  private readonly typed = new Set<string>();

  add(name: string, type: 'counter' | 'gauge', l: Record<string, string>, value: number): void {
    if (!this.typed.has(name)) {
      this.typed.add(name);
      this.out += `# TYPE ${name} ${type}\n`;
    }
    this.out += `${name}{${labels(l)}} ${value}\n`;
  }

  text(): string {
    return this.out;
  }
}

const TLS_COUNTERS: [keyof TlsStats, string][] = [
  ['handshake', 'handshake'],
  ['connectionError', 'connection_error'],
  ['failVerifyNoCert', 'fail_verify_no_cert'],
  ['failVerifyError', 'fail_verify_error'],
  ['failVerifySan', 'fail_verify_san'],
  ['noCertificate', 'no_certificate'],
];

/**
 * RBAC (`envoy_http_rbac_*{envoy_rbac_prefix}`), jwt_authn (`envoy_http_jwt_authn_*`), TLS
 * (`envoy_listener_ssl_*`, `envoy_cluster_ssl_*`), and for each certificate secret the seconds
 * until it expires (`weft_cert_expiry_seconds{resource_name}`: `default` is the workload
 * certificate, `ROOTCA` the trust bundle's earliest root) with its serial (`weft_cert_info`).
 */
export function renderSecurityMetrics(
  secrets: SecretStore | undefined,
  core: object,
  now = Date.now(),
): string {
  const w = new Lines();
  for (const s of allRbacStats(core)) {
    const l = { envoy_rbac_prefix: s.prefix };
    w.add('envoy_http_rbac_allowed', 'counter', l, s.allowed);
    w.add('envoy_http_rbac_denied', 'counter', l, s.denied);
    w.add('envoy_http_rbac_shadow_allowed', 'counter', l, s.shadowAllowed);
    w.add('envoy_http_rbac_shadow_denied', 'counter', l, s.shadowDenied);
    w.add('envoy_http_rbac_logged', 'counter', l, s.logged);
    w.add('envoy_http_rbac_not_logged', 'counter', l, s.notLogged);
  }
  // Network RBAC: Envoy's `<stat_prefix>rbac.<counter>` (shadow: `<stat_prefix>rbac.<shadow prefix>shadow_*`).
  for (const [key, s] of NETWORK_RBAC_STATS.entries(core)) {
    const name = (counter: string) => `envoy_${key.replace(/[^A-Za-z0-9]/g, '_')}${counter}`;
    w.add(name('allowed'), 'counter', {}, s.allowed);
    w.add(name('denied'), 'counter', {}, s.denied);
    w.add(name('shadow_allowed'), 'counter', {}, s.shadowAllowed);
    w.add(name('shadow_denied'), 'counter', {}, s.shadowDenied);
    w.add(name('logged'), 'counter', {}, s.logged);
    w.add(name('not_logged'), 'counter', {}, s.notLogged);
  }
  for (const s of allJwtAuthnStats(core)) {
    const l = { envoy_jwt_authn_prefix: s.prefix };
    w.add('envoy_http_jwt_authn_allowed', 'counter', l, s.allowed);
    w.add('envoy_http_jwt_authn_denied', 'counter', l, s.denied);
    w.add('envoy_http_jwt_authn_cors_preflight_bypassed', 'counter', l, s.corsPreflightBypassed);
  }
  w.add('envoy_http_jwt_authn_jwks_fetch_success', 'counter', {}, jwksFetchStats.success);
  w.add('envoy_http_jwt_authn_jwks_fetch_failed', 'counter', {}, jwksFetchStats.failed);
  for (const s of allTlsStats(core)) {
    const l: Record<string, string> =
      s.scope === 'listener' ? { envoy_listener_address: s.name } : { envoy_cluster_name: s.name };
    for (const [field, suffix] of TLS_COUNTERS)
      w.add(`envoy_${s.scope}_ssl_${suffix}`, 'counter', l, s[field] as number);
  }
  let first: number | undefined;
  for (const [name, stored] of secrets?.entries() ?? []) {
    if (!stored.expiresAt) continue;
    const seconds = Math.floor((stored.expiresAt.getTime() - now) / 1000);
    first = first === undefined ? seconds : Math.min(first, seconds);
    w.add('weft_cert_expiry_seconds', 'gauge', { resource_name: name }, seconds);
    w.add('weft_cert_info', 'gauge', { resource_name: name, serial: stored.serialNumber ?? '' }, 1);
  }
  if (first !== undefined)
    w.add('envoy_server_days_until_first_cert_expiring', 'gauge', {}, Math.max(0, Math.floor(first / 86400)));
  return w.text();
}
