// HttpConnectionManager config: codec, where routes come from, the filter chain, header policies.
import {
  checkFields,
  durationMs,
  list,
  type Msg,
  msg,
  str,
  unsupported,
  wrappedBool,
  wrappedNum,
} from '../common/fields.ts';
import { type AccessLogConfig, compileAccessLogs } from './access-log-config.ts';
import type { HttpFilterConfig } from './filters/filter.ts';
import { HTTP_FILTERS, openTypedStruct } from './filters/registry.ts';
import { compileInternalAddress, type InternalAddress } from './internal-address.ts';
import { compilePathNormalization, type PathNormalizationConfig } from './path-normalization.ts';
import { compileRouteTable, type RouteTable } from './router/route-table.ts';
import { compileTracing, type TracingConfig } from './tracing-config.ts';
import { compileXfcc, type XfccConfig } from './xfcc.ts';

export const HCM_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Parsed HttpConnectionManager. */
export interface HcmConfig {
  statPrefix: string;
  codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** RDS name to resolve, or an inline table. */
  rdsName?: string;
  inlineRoutes?: RouteTable;
  /** Non-terminal filters, in order (the router is implicit and last). */
  filters: HttpFilterConfig[];
  /** Upgrade types allowed (lowercase: `websocket`, `connect`). */
  upgrades: Set<string>;
  /** Append the peer address to x-forwarded-for and trust it (use_remote_address). */
  useRemoteAddress: boolean;
  skipXffAppend: boolean;
  generateRequestId: boolean;
  /** With use_remote_address, an external client's x-request-id is kept (else replaced). */
  preserveExternalRequestId: boolean;
  /** always_set_request_id_in_response: the response carries the request's x-request-id. */
  alwaysSetRequestIdInResponse: boolean;
  /** internal_address_config: which client addresses are internal (read with use_remote_address). */
  isInternal: InternalAddress;
  /** `via`: appended to request and response `via` headers ('' = none). */
  via: string;
  serverName: string;
  serverHeader: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  /** ms; 0 disables. Envoy default 5 min. */
  streamIdleTimeoutMs: number;
  /** The whole request must arrive within this (request_timeout; 0 disables, the default). */
  requestTimeoutMs: number;
  /** After a response that closes an HTTP/1.1 connection, the client gets this long to close first (delayed_close_timeout). */
  delayedCloseTimeoutMs: number;
  /** Idle downstream connections close after this (common_http_protocol_options.idle_timeout; default 1 h). */
  idleTimeoutMs: number;
  /** A request head must arrive within this from its first byte (request_headers_timeout; 0: none, Envoy's default). */
  requestHeadersTimeoutMs: number;
  /** Connections are drained after this long (common_http_protocol_options.max_connection_duration; 0: never). */
  maxConnectionDurationMs: number;
  /** strip_matching_host_port / strip_any_host_port. */
  stripPort: 'none' | 'matching' | 'any';
  /** The listener's port, for strip_matching_host_port. */
  listenerPort: number;
  /** normalize_path, merge_slashes, path_with_escaped_slashes_action (applied before any filter). */
  pathNormalization: PathNormalizationConfig;
  /** forward_client_cert_details and set_current_client_cert_details. */
  xfcc: XfccConfig;
  /** access_log: files every finished request is logged to. */
  accessLogs: AccessLogConfig[];
  /** tracing: sampling and the span collector; absent = no spans. */
  tracing?: TracingConfig;
}

const HCM_FIELDS = [
  'statPrefix',
  'codecType',
  'rds',
  'routeConfig',
  'httpFilters',
  'upgradeConfigs',
  'useRemoteAddress',
  'xffNumTrustedHops',
  'skipXffAppend',
  'generateRequestId',
  'preserveExternalRequestId',
  'serverName',
  'serverHeaderTransformation',
  'streamIdleTimeout',
  'requestTimeout',
  'requestHeadersTimeout',
  'delayedCloseTimeout',
  'commonHttpProtocolOptions',
  'httpProtocolOptions',
  'http2ProtocolOptions',
  'normalizePath',
  'mergeSlashes',
  'pathWithEscapedSlashesAction',
  'stripMatchingHostPort',
  'stripAnyHostPort',
  'tracing',
  'accessLog',
  'forwardClientCertDetails',
  'setCurrentClientCertDetails',
  'alwaysSetRequestIdInResponse',
  'via',
  'internalAddressConfig',
  'localReplyConfig',
  'streamErrorOnInvalidHttpMessage',
];

/**
 * The protocol options weft does not implement, read so that setting one is a NACK rather than
 * a silent no-op: `http_protocol_options` and `http2_protocol_options` (weft's codecs have fixed
 * settings), `local_reply_config` (local replies have weft's fixed bodies), and
 * `stream_error_on_invalid_http_message: false` (a malformed HTTP/2 request resets its stream,
 * never the whole connection).
 */
function refuseUnimplemented(c: Msg, where: string): void {
  for (const [field, name] of [
    ['httpProtocolOptions', 'http_protocol_options'],
    ['http2ProtocolOptions', 'http2_protocol_options'],
    ['localReplyConfig', 'local_reply_config'],
  ] as const) {
    const m = msg(c[field]);
    if (m) checkFields(m, `${where}.${name}`, []);
  }
  const streamError = msg(c.streamErrorOnInvalidHttpMessage);
  if (streamError && streamError.value !== true)
    unsupported(
      where,
      'stream_error_on_invalid_http_message false (an invalid HTTP/2 request resets its stream)',
    );
}

/** Parses an HCM's typed_config. `listenerPort` feeds strip_matching_host_port. */
export function compileHcm(c: Msg, where: string, listenerPort: number): HcmConfig {
  checkFields(c, where, HCM_FIELDS);
  refuseUnimplemented(c, where);
  const accessLogs = compileAccessLogs(c.accessLog, where);
  const tracing = compileTracing(c.tracing, where);
  const codec = (str(c.codecType) || 'AUTO') as HcmConfig['codec'];
  if (!['AUTO', 'HTTP1', 'HTTP2'].includes(codec)) unsupported(where, `codec_type ${codec}`);
  let rdsName: string | undefined;
  let inlineRoutes: RouteTable | undefined;
  const rds = msg(c.rds);
  if (rds) {
    checkFields(rds, `${where}.rds`, ['configSource', 'routeConfigName']);
    rdsName = str(rds.routeConfigName);
  } else if (msg(c.routeConfig)) inlineRoutes = compileRouteTable(msg(c.routeConfig)!);
  else unsupported(where, 'an HCM without rds or route_config');
  const filters: HttpFilterConfig[] = [];
  let sawRouter = false;
  for (const [i, f] of list(c.httpFilters).entries()) {
    const fw = `${where}.http_filters[${i}]`;
    checkFields(f, fw, ['name', 'typedConfig', 'isOptional', 'disabled']);
    const tc = openTypedStruct(msg(f.typedConfig) ?? {}, `${fw}.typed_config`);
    const typeUrl = str(tc['@type']);
    const factory = HTTP_FILTERS.get(typeUrl);
    if (!factory) {
      if (f.isOptional === true) continue;
      unsupported(fw, `http filter '${str(f.name)}' (${typeUrl || 'no typed_config'})`);
    }
    if (sawRouter) unsupported(fw, 'a filter after the router');
    const parsed = factory.parse(str(f.name), tc, `${fw}.typed_config`);
    if (factory.terminal) sawRouter = true;
    else if (parsed && f.disabled !== true) filters.push(parsed);
  }
  if (!sawRouter) unsupported(where, 'an HCM without the router filter last');
  const upgrades = new Set<string>();
  for (const [i, u] of list(c.upgradeConfigs).entries()) {
    checkFields(u, `${where}.upgrade_configs[${i}]`, ['upgradeType', 'enabled', 'filters']);
    if (list(u.filters).length > 0) unsupported(`${where}.upgrade_configs[${i}]`, 'filters');
    if (wrappedBool(u.enabled, true)) upgrades.add(str(u.upgradeType).toLowerCase());
  }
  const common = msg(c.commonHttpProtocolOptions);
  if (common)
    checkFields(common, `${where}.common_http_protocol_options`, ['idleTimeout', 'maxConnectionDuration']);
  const sht = str(c.serverHeaderTransformation) || 'OVERWRITE';
  if (wrappedNum(c.xffNumTrustedHops, 0) > 0) unsupported(where, 'xff_num_trusted_hops');
  return {
    statPrefix: str(c.statPrefix),
    accessLogs,
    tracing,
    codec,
    rdsName,
    inlineRoutes,
    filters,
    upgrades,
    useRemoteAddress: wrappedBool(c.useRemoteAddress, false),
    skipXffAppend: c.skipXffAppend === true,
    generateRequestId: wrappedBool(c.generateRequestId, true),
    preserveExternalRequestId: c.preserveExternalRequestId === true,
    alwaysSetRequestIdInResponse: c.alwaysSetRequestIdInResponse === true,
    isInternal: compileInternalAddress(c, where),
    via: str(c.via),
    serverName: str(c.serverName) || 'weft',
    serverHeader: sht as HcmConfig['serverHeader'],
    streamIdleTimeoutMs: durationMs(c.streamIdleTimeout, 300_000),
    requestTimeoutMs: durationMs(c.requestTimeout, 0),
    delayedCloseTimeoutMs: durationMs(c.delayedCloseTimeout, 1000),
    idleTimeoutMs: durationMs(common?.idleTimeout, 3600_000),
    requestHeadersTimeoutMs: durationMs(c.requestHeadersTimeout, 0),
    maxConnectionDurationMs: durationMs(common?.maxConnectionDuration, 0),
    stripPort: c.stripAnyHostPort === true ? 'any' : c.stripMatchingHostPort === true ? 'matching' : 'none',
    listenerPort,
    pathNormalization: compilePathNormalization(c, where),
    xfcc: compileXfcc(c, where),
  };
}
