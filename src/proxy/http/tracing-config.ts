// An HCM's `tracing`: random sampling and the OpenTelemetry tracer's OTLP/HTTP collector (any other provider is NACKed).
import { CONFIG_TYPE } from '../../xds/type-urls.ts';
import { checkFields, type Msg, msg, num, str, unsupported } from '../common/fields.ts';

export interface TracingConfig {
  /** 0-100: share of requests without a caller's decision that start a sampled trace. */
  samplingPercent: number;
  /** Where spans go; absent: spans are sampled and propagated but not exported. */
  collector?: { host: string; port: number; path: string };
  /** `service.name` of the spans. */
  serviceName: string;
}

/** Compiles `tracing` of an HCM at `where`; undefined when absent (no spans, headers passed through). */
export function compileTracing(value: unknown, where: string): TracingConfig | undefined {
  const t = msg(value);
  if (!t) return undefined;
  const w = `${where}.tracing`;
  checkFields(t, w, ['randomSampling', 'provider']);
  const provider = msg(t.provider);
  if (!provider) unsupported(w, 'tracing without a provider');
  checkFields(provider, `${w}.provider`, ['name', 'typedConfig']);
  const tc = msg(provider.typedConfig) ?? {};
  if (str(tc['@type']) !== CONFIG_TYPE.openTelemetryTracer)
    unsupported(
      `${w}.provider`,
      `tracer ${str(tc['@type']) || str(provider.name)} (weft implements envoy.tracers.opentelemetry)`,
    );
  const pw = `${w}.provider.typed_config`;
  checkFields(tc, pw, ['@type', 'httpService', 'serviceName']);
  const service = msg(tc.httpService);
  if (!service) unsupported(pw, 'an OpenTelemetry tracer without http_service (weft exports over OTLP/HTTP)');
  checkFields(service, `${pw}.http_service`, ['httpUri']);
  const uri = msg(service.httpUri) ?? {};
  checkFields(uri, `${pw}.http_service.http_uri`, ['uri', 'cluster', 'timeout']);
  const sampling = num((msg(t.randomSampling) as Msg | undefined)?.value, 100);
  return {
    samplingPercent: Math.min(100, Math.max(0, sampling)),
    collector: str(uri.uri) ? collectorOf(str(uri.uri), `${pw}.http_service.http_uri.uri`) : undefined,
    serviceName: str(tc.serviceName) || 'unknown_service:weft',
  };
}

function collectorOf(text: string, where: string): TracingConfig['collector'] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    unsupported(where, `"${text}", which is not a URL`);
  }
  if (url.protocol !== 'http:')
    unsupported(where, `${url.protocol} collectors (weft sends OTLP over plain HTTP)`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    path: url.pathname || '/v1/traces',
  };
}
