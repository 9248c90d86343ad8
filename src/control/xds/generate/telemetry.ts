// The HCM's access_log for a proxy side, from the telemetry in force (MeshConfig's access log, Telemetry resources).

import { type TelemetrySide, telemetryFor } from '../../../model/telemetry.ts';
import { DEFAULT_JSON_FORMAT, DEFAULT_TEXT_FORMAT } from '../../../observe/access-log/defaults.ts';
import type { AccessLog } from '../../../xds/messages/index.ts';
import { jsonToStruct } from '../../../xds/struct.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { GenerateContext } from './common.ts';

/**
 * `access_log` of the HCMs on one side of a proxy (CLIENT: outbound, SERVER: inbound and
 * gateways): one file logger per provider, with its format written out in full (Istio's
 * defaults when none is given), so what the proxy is sent says exactly what it logs.
 */
export function accessLogs(ctx: GenerateContext, side: TelemetrySide): { access_log?: AccessLog[] } {
  const t = telemetryFor(ctx.snapshot, ctx.proxy, side);
  for (const name of t.unknownProviders)
    ctx.warn(
      `telemetry-provider/${name}`,
      `telemetry provider "${name}" is not defined in MeshConfig extensionProviders (or is of the wrong kind); it is left out`,
    );
  if (t.accessLogs.length === 0) return {};
  return {
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
