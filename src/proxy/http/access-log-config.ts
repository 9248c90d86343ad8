// An HCM's access_log: Envoy's file access logger with a text or JSON format, compiled once (anything else is NACKed).
import { ENVOY_DEFAULT_FORMAT } from '../../observe/access-log/defaults.ts';
import type { AccessLogEntry } from '../../observe/access-log/entry.ts';
import { AccessLogFormatError, jsonFormatter, textFormatter } from '../../observe/access-log/format.ts';
import { structToJson, type WireStruct } from '../../xds/struct.ts';
import { CONFIG_TYPE } from '../../xds/type-urls.ts';
import { checkFields, list, type Msg, msg, str, unsupported } from '../common/fields.ts';

/** One access log of an HCM. */
export interface AccessLogConfig {
  path: string;
  /** The whole line (with its newline) for a finished request. */
  format: (e: AccessLogEntry) => string;
}

/** Compiles `access_log` of an HCM at `where`. */
export function compileAccessLogs(value: unknown, where: string): AccessLogConfig[] {
  return list(value).map((log, i) => compileOne(log, `${where}.access_log[${i}]`));
}

function compileOne(log: Msg, where: string): AccessLogConfig {
  checkFields(log, where, ['name', 'typedConfig', 'filter']);
  if (msg(log.filter)) unsupported(where, 'filter (every request is logged)');
  const tc = msg(log.typedConfig) ?? {};
  if (str(tc['@type']) !== CONFIG_TYPE.fileAccessLog)
    unsupported(
      where,
      `access logger ${str(tc['@type']) || str(log.name)} (weft writes envoy.access_loggers.file)`,
    );
  const w = `${where}.typed_config`;
  checkFields(tc, w, ['@type', 'path', 'logFormat', 'format']);
  const path = str(tc.path);
  if (!path) unsupported(w, 'a file access log without a path');
  try {
    return { path, format: formatOf(tc, w) };
  } catch (err) {
    if (err instanceof AccessLogFormatError) unsupported(w, err.message);
    throw err;
  }
}

function formatOf(tc: Msg, where: string): AccessLogConfig['format'] {
  if (str(tc.format)) return textFormatter(str(tc.format));
  const lf = msg(tc.logFormat);
  if (!lf) return textFormatter(ENVOY_DEFAULT_FORMAT);
  checkFields(lf, `${where}.log_format`, ['textFormat', 'textFormatSource', 'jsonFormat']);
  if (str(lf.textFormat)) return textFormatter(str(lf.textFormat));
  const source = msg(lf.textFormatSource);
  if (source) {
    checkFields(source, `${where}.log_format.text_format_source`, ['inlineString']);
    return textFormatter(str(source.inlineString));
  }
  const json = msg(lf.jsonFormat);
  if (json) {
    const keys = structToJson(json as WireStruct);
    for (const [k, v] of Object.entries(keys))
      if (typeof v !== 'string')
        unsupported(`${where}.log_format.json_format.${k}`, 'a value that is not a format string');
    return jsonFormatter(keys as Record<string, string>);
  }
  return textFormatter(ENVOY_DEFAULT_FORMAT);
}
