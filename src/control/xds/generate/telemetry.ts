// The HCM's access_log and tracing for a proxy side, from the telemetry in force (MeshConfig, Telemetry resources).

import { type TelemetrySide, type TracingTarget, telemetryFor } from '../../../model/telemetry.ts';
import { DEFAULT_JSON_FORMAT, DEFAULT_TEXT_FORMAT } from '../../../observe/access-log/defaults.ts';
import type { AccessLog, Tracing } from '../../../xds/messages/index.ts';
import { jsonToStruct } from '../../../xds/struct.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { GenerateContext } from './common.ts';

/**
 * `access_log` of the HCMs on one side of a proxy (CLIENT: outbound, SERVER: inbound and
 * gateways): one file logger per provider, with its format written out in full (Istio's
 * defaults when none is given), so what the proxy is sent says exactly what it logs.
 */
export function telemetryFields(
  ctx: GenerateContext,
  side: TelemetrySide,
): { access_log?: AccessLog[]; tracing?: Tracing } {
  const t = telemetryFor(ctx.snapshot, ctx.proxy, side);
  const tracing = t.tracing && tracingOf(ctx, t.tracing);
  for (const name of t.unknownProviders)
    ctx.warn(
      `telemetry-provider/${name}`,
      `telemetry provider "${name}" is not defined in MeshConfig extensionProviders (or is of the wrong kind); it is left out`,
    );
  if (t.accessLogs.length === 0) return tracing ? { tracing } : {};
  return {
    ...(tracing ? { tracing } : {}),
    access_log: t.accessLogs.map((log) => ({
      name: 'envoy.access_loggers.file',
      typed_config: {
        '@type': CONFIG_TYPE.fileAccessLog,
        path: log.path,
        log_format:
          log.encoding === 'JSON'
            ? { json_format: jsonToStruct(log.labels ?? DEFAULT_JSON_FORMAT) }
            : { text_format_source: { inline_string: withNewline(log.format ?? DEFAULT_TEXT_FORMAT) } },
      },
    })),
  };
}

/** Envoy writes a text format as given; Istio ends a custom one with a newline. */
function withNewline(format: string): string {
  return format.endsWith('\n') ? format : `${format}\n`;
}

/**
 * HCM `tracing`: the OpenTelemetry tracer with the collector's OTLP/HTTP URI. A collector that is
 * a mesh service with a plain endpoint (a ServiceEntry or WorkloadEntry address) is reached at that
 * address; otherwise its host is used as written. Span reporting off: sampled, propagated, not sent
 * (an empty URI).
 */
function tracingOf(ctx: GenerateContext, t: TracingTarget): Tracing {
  const endpoint = ctx.snapshot.endpointsByHost.get(t.service)?.find((w) => !w.sidecar);
  const host = endpoint?.address ?? t.service;
  const authority = host.includes(':') ? `[${host}]:${t.port}` : `${host}:${t.port}`;
  return {
    random_sampling: { value: t.samplingPercent },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': CONFIG_TYPE.openTelemetryTracer,
        http_service: {
          http_uri: {
            uri: t.reporting ? `http://${authority}${t.path}` : '',
            cluster: `outbound|${t.port}||${t.service}`,
            timeout: { seconds: 5 },
          },
        },
        service_name: `${ctx.proxy.labels.app ?? ctx.proxy.cluster}.${ctx.proxy.namespace}`,
      },
    },
  };
}
