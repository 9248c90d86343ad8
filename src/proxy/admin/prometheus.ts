// Renders the proxy's counters in Prometheus text format with Envoy's metric and label names.

import { LOCAL_RATELIMIT_STATS } from '../http/filters/local-ratelimit/ratelimit-filter.ts';
import { CONNECTION_LIMIT_STATS } from '../listener/connection-limit-filter.ts';
import type { OverloadManager } from '../overload/overload-manager.ts';
import type { ProxyCore } from '../proxy.ts';
import type { AdsClient } from '../xds-client/ads-client.ts';
import { renderSecurityMetrics, SECURITY_GAUGES } from './security-metrics.ts';

class Writer {
  private out = '';
  private typed = new Set<string>();

  metric(name: string, type: 'counter' | 'gauge', labels: Record<string, string>, value: number): void {
    if (!this.typed.has(name)) {
      this.typed.add(name);
      this.out += `# TYPE ${name} ${type}\n`;
    }
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    this.out += `${name}{${l}} ${value}\n`;
  }

  text(): string {
    return this.out;
  }
}

/** The /stats/prometheus body. */
export function renderPrometheus(core: ProxyCore, ads: AdsClient | undefined): string {
  const w = new Writer();
  for (const c of core.clusters.all()) {
    const l = { envoy_cluster_name: c.name };
    const s = c.stats;
    w.metric('envoy_cluster_upstream_rq_total', 'counter', l, s.rqTotal);
    w.metric('envoy_cluster_upstream_rq_active', 'gauge', l, s.rqActive);
    for (let cls = 1; cls <= 5; cls++)
      w.metric(
        'envoy_cluster_upstream_rq_xx',
        'counter',
        { ...l, envoy_response_code_class: String(cls) },
        s.rqByClass[cls],
      );
    w.metric('envoy_cluster_upstream_rq_timeout', 'counter', l, s.rqTimeout);
    w.metric('envoy_cluster_upstream_rq_retry', 'counter', l, s.rqRetry);
    w.metric('envoy_cluster_upstream_rq_pending_overflow', 'counter', l, s.rqOverflow);
    w.metric('envoy_cluster_upstream_rq_retry_overflow', 'counter', l, s.rqRetryOverflow);
    w.metric('envoy_cluster_upstream_rq_rx_reset', 'counter', l, s.rqRxReset);
    w.metric('envoy_cluster_upstream_cx_total', 'counter', l, s.cxTotal);
    w.metric('envoy_cluster_upstream_cx_active', 'gauge', l, s.cxActive);
    w.metric('envoy_cluster_upstream_cx_connect_fail', 'counter', l, s.cxConnectFail);
    w.metric('envoy_cluster_upstream_cx_none_healthy', 'counter', l, s.noneHealthy);
    w.metric('envoy_cluster_health_check_success', 'counter', l, s.hcSuccess);
    w.metric('envoy_cluster_health_check_failure', 'counter', l, s.hcFailure);
    const hosts = c.allHosts();
    w.metric('envoy_cluster_membership_total', 'gauge', l, hosts.length);
    w.metric('envoy_cluster_membership_healthy', 'gauge', l, hosts.filter((h) => h.healthy).length);
  }
  for (const s of core.httpStats.all()) {
    const l = { envoy_http_conn_manager_prefix: s.prefix };
    w.metric('envoy_http_downstream_rq_total', 'counter', l, s.rqTotal);
    w.metric('envoy_http_downstream_rq_active', 'gauge', l, s.rqActive);
    for (let cls = 1; cls <= 5; cls++)
      w.metric(
        'envoy_http_downstream_rq_xx',
        'counter',
        { ...l, envoy_response_code_class: String(cls) },
        s.rqByClass[cls],
      );
    w.metric('envoy_http_downstream_rq_http1_total', 'counter', l, s.rqHttp1);
    w.metric('envoy_http_downstream_rq_http2_total', 'counter', l, s.rqHttp2);
    w.metric('envoy_http_downstream_cx_total', 'counter', l, s.cxTotal);
    w.metric('envoy_http_downstream_cx_active', 'gauge', l, s.cxActive);
    w.metric('envoy_http_downstream_cx_protocol_error', 'counter', l, s.protocolError);
    w.metric('envoy_http_downstream_cx_idle_timeout', 'counter', l, s.cxIdleTimeout);
    w.metric('envoy_http_downstream_rq_idle_timeout', 'counter', l, s.rqIdleTimeout);
    w.metric('envoy_http_downstream_rq_header_timeout', 'counter', l, s.rqHeaderTimeout);
    w.metric('envoy_http_downstream_rq_timeout', 'counter', l, s.rqTimeout);
    w.metric('envoy_http_downstream_cx_max_duration_reached', 'counter', l, s.cxMaxDurationReached);
    w.metric('envoy_http_downstream_rq_too_many_premature_resets', 'counter', l, s.rqTooManyPrematureResets);
    w.metric('envoy_http_downstream_rq_rx_reset', 'counter', l, s.rxReset);
    w.metric('envoy_http_downstream_cx_upgrades_total', 'counter', l, s.upgrades);
    w.metric('envoy_http_no_route', 'counter', l, s.noRoute);
    w.metric('envoy_http_downstream_rq_overload_close', 'counter', l, s.rqOverloadClose);
  }
  for (const [prefix, s] of LOCAL_RATELIMIT_STATS.entries(core)) {
    const l = { envoy_local_http_ratelimit_prefix: prefix };
    w.metric('envoy_http_local_rate_limit_enabled', 'counter', l, s.enabled);
    w.metric('envoy_http_local_rate_limit_enforced', 'counter', l, s.enforced);
    w.metric('envoy_http_local_rate_limit_rate_limited', 'counter', l, s.rateLimited);
    w.metric('envoy_http_local_rate_limit_ok', 'counter', l, s.ok);
  }
  for (const [prefix, s] of core.tcpStats) {
    const l = { envoy_tcp_prefix: prefix };
    w.metric('envoy_tcp_downstream_cx_total', 'counter', l, s.cxTotal);
    w.metric('envoy_tcp_downstream_cx_active', 'gauge', l, s.cxActive);
    w.metric('envoy_tcp_downstream_cx_no_route', 'counter', l, s.noRoute);
    w.metric('envoy_tcp_upstream_cx_connect_fail', 'counter', l, s.connectFail);
  }
  for (const [prefix, s] of CONNECTION_LIMIT_STATS.entries(core)) {
    const l = { envoy_connection_limit_prefix: prefix };
    w.metric('envoy_connection_limit_limited_connections', 'counter', l, s.limitedConnections);
    w.metric('envoy_connection_limit_active_connections', 'gauge', l, s.activeConnections);
  }
  for (const listener of core.listeners.all()) {
    const l = { envoy_listener_address: `${listener.config.address}_${listener.port}` };
    w.metric('envoy_listener_downstream_cx_total', 'counter', l, listener.accepted);
    w.metric('envoy_listener_downstream_pre_cx_timeout', 'counter', l, listener.preConnectionTimeouts);
    w.metric('envoy_listener_downstream_cx_overflow', 'counter', l, listener.overflow);
    w.metric('envoy_listener_downstream_cx_active', 'gauge', l, listener.limit.active);
    w.metric('envoy_listener_downstream_cx_overload_reject', 'counter', l, listener.overloadRejected);
  }
  if (core.overload) writeOverloadMetrics(w, core.overload);
  if (core.dnsStats) {
    // Istio's DNS proxy metric names (its agent's).
    const d = core.dnsStats;
    w.metric('istio_agent_dns_requests_total', 'counter', {}, d.answered + d.forwarded);
    w.metric('istio_agent_dns_upstream_requests_total', 'counter', {}, d.forwarded);
    w.metric('istio_agent_dns_upstream_failures_total', 'counter', {}, d.failed);
  }
  if (ads) writeAdsMetrics(w, ads, core.ready());
  return w.text() + renderSecurityMetrics(core.secrets, core) + core.telemetry.registry.render();
}

function writeOverloadMetrics(w: Writer, o: OverloadManager): void {
  const action = 'envoy_overload_envoy_overload_actions_';
  w.metric(`${action}stop_accepting_requests_active`, 'gauge', {}, o.stopAcceptingRequests ? 1 : 0);
  w.metric(`${action}stop_accepting_connections_active`, 'gauge', {}, o.stopAcceptingConnections ? 1 : 0);
  // Envoy reports a monitor's pressure as a percentage.
  const pressure = Math.round(o.pressure * 100);
  w.metric('envoy_overload_envoy_resource_monitors_fixed_heap_pressure', 'gauge', {}, pressure);
}

function writeAdsMetrics(w: Writer, ads: AdsClient, ready: boolean): void {
  w.metric('envoy_control_plane_connected_state', 'gauge', {}, ads.connected ? 1 : 0);
  w.metric('weft_xds_updates_total', 'counter', {}, ads.counters.updates);
  w.metric('weft_xds_rejected_total', 'counter', {}, ads.counters.rejected);
  w.metric('weft_xds_connects_total', 'counter', {}, ads.counters.connects);
  w.metric('envoy_server_state', 'gauge', {}, ready ? 0 : 2);
}

/** The process-level metrics of a multi-core primary (its workers render the traffic metrics). */
export function renderAdsPrometheus(ads: AdsClient, ready: boolean): string {
  const w = new Writer();
  writeAdsMetrics(w, ads, ready);
  return w.text();
}

/** Gauges that describe membership or state: merged with max, not summed, across workers. */
const NOT_SUMMED = new RegExp(
  `^envoy_cluster_membership_|^envoy_overload_|^envoy_server_state|^envoy_control_plane_connected_state|${SECURITY_GAUGES.source}`,
);

/** Merges the Prometheus text of several workers: samples with the same name and labels add up. */
export function mergePrometheus(texts: string[]): string {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  const order: string[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('# TYPE ')) {
        const name = line.split(' ')[2];
        const seen = types.get(name) ?? '';
        if (!seen.includes('# TYPE ')) types.set(name, seen + line);
        continue;
      }
      if (line.startsWith('# HELP ')) {
        const name = line.split(' ')[2];
        if (!types.has(name)) types.set(name, `${line}\n`);
        continue;
      }
      const sp = line.lastIndexOf(' ');
      const key = line.slice(0, sp);
      const value = Number(line.slice(sp + 1));
      const prev = samples.get(key);
      if (prev === undefined) {
        order.push(key);
        samples.set(key, value);
      } else samples.set(key, NOT_SUMMED.test(key) ? Math.max(prev, value) : prev + value);
    }
  }
  let out = '';
  const typed = new Set<string>();
  for (const key of order) {
    const name = familyOf(key, types);
    if (!typed.has(name) && types.has(name)) {
      typed.add(name);
      out += `${types.get(name)}\n`;
    }
    out += `${key} ${samples.get(key)}\n`;
  }
  return out;
}

/** The family a sample belongs to: `x_bucket{...}`, `x_sum` and `x_count` belong to histogram `x`. */
function familyOf(key: string, types: Map<string, string>): string {
  const brace = key.indexOf('{');
  const name = brace < 0 ? key : key.slice(0, brace);
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.has(base) ? base : name;
}
