// MeshConfig's telemetry fields (Istio's accessLogFile, accessLogEncoding, accessLogFormat, extensionProviders, defaultProviders).
import { parseJsonFormat } from '../../model/telemetry.ts';
import type { ExtensionProvider, MeshTelemetry } from '../../model/types.ts';
import type { Fields, Reader } from '../read.ts';
import { defined, list, nonEmptyString, object, oneOf, port, record, string } from '../read.ts';

const providerNames = list(nonEmptyString);

const envoyFileAccessLog = object((f) => {
  const format = f.optional(
    'logFormat',
    object((l) => {
      const text = l.optional('text', string);
      const labels = l.optional('labels', record(string));
      if (text !== undefined && labels !== undefined)
        l.check.error(l.path, 'set either text or labels, not both');
      return { text, labels };
    }),
  );
  return { path: f.required('path', nonEmptyString) ?? '', ...format };
});

const opentelemetry = object(
  (f) => ({
    service: f.required('service', nonEmptyString) ?? '',
    port: f.required('port', port) ?? 0,
    path:
      f.optional(
        'http',
        object((h) => h.optional('path', nonEmptyString) ?? '/v1/traces'),
      ) ?? '/v1/traces',
  }),
  { unsupported: { grpc: "weft exports spans over OTLP/HTTP only; name the collector's HTTP port" } },
);

/** One `extensionProviders[]` entry: `name` and exactly one provider kind weft implements. */
const extensionProvider: Reader<ExtensionProvider> = object(
  (f) => {
    const name = f.required('name', nonEmptyString) ?? '';
    const file = f.optional('envoyFileAccessLog', envoyFileAccessLog);
    const otel = f.optional('opentelemetry', opentelemetry);
    if (file && otel) f.check.error(f.path, 'set one provider kind per extension provider');
    if (file) return { name, kind: 'envoyFileAccessLog', ...file } as ExtensionProvider;
    if (otel) return { name, kind: 'opentelemetry', ...otel } as ExtensionProvider;
    if (name) f.check.error(f.path, 'needs a provider: envoyFileAccessLog or opentelemetry');
    return undefined;
  },
  {
    unsupported: Object.fromEntries(
      [
        'envoyExtAuthzHttp',
        'envoyExtAuthzGrpc',
        'zipkin',
        'lightstep',
        'datadog',
        'stackdriver',
        'skywalking',
        'prometheus',
        'envoyHttpAls',
        'envoyTcpAls',
        'envoyOtelAls',
        'sds',
      ].map((k) => [k, 'weft implements envoyFileAccessLog and opentelemetry providers']),
    ),
  },
);

/** Reads the telemetry fields of a MeshConfig spec; undefined when none is set. */
export function readMeshTelemetry(f: Fields): MeshTelemetry | undefined {
  const t = defined<MeshTelemetry>({
    accessLogFile: f.optional('accessLogFile', string),
    accessLogEncoding: f.optional('accessLogEncoding', oneOf(['TEXT', 'JSON'])),
    accessLogFormat: f.optional('accessLogFormat', string),
    extensionProviders: f.optional('extensionProviders', list(extensionProvider)),
    defaultProviders: f.optional(
      'defaultProviders',
      object(
        (d) =>
          defined<NonNullable<MeshTelemetry['defaultProviders']>>({
            accessLogging: d.optional('accessLogging', providerNames),
            tracing: d.optional('tracing', providerNames),
          }),
        { unsupported: { metrics: "Istio's standard metrics are always on, served by every proxy" } },
      ),
    ),
  });
  if (t.accessLogEncoding === 'JSON' && t.accessLogFormat && !parseJsonFormat(t.accessLogFormat))
    f.check.error(
      f.at('accessLogFormat'),
      'with accessLogEncoding JSON, accessLogFormat must be a JSON object of format strings, e.g. {"code": "%RESPONSE_CODE%"}',
    );
  const names = (t.extensionProviders ?? []).map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) f.check.error(f.at('extensionProviders'), `provider name "${dup}" is used twice`);
  return Object.keys(t).length === 0 ? undefined : t;
}
