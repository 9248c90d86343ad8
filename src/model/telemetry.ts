// The telemetry in force for a workload: MeshConfig's access log and providers, overridden by Telemetry resources (mesh → namespace → workload).
import { selectorMatches } from './labels.ts';
import type { PolicyTarget } from './policies.ts';
import type {
  AccessLogEncoding,
  MeshSnapshot,
  MeshTelemetry,
  TelemetryMode,
  TelemetryModel,
} from './types.ts';

/** Istio's default sampling when a tracing provider is on and no Telemetry sets a percentage. */
export const DEFAULT_SAMPLING_PERCENT = 1;

/** One access log a proxy writes. */
export interface AccessLogTarget {
  /** The provider that asked for it (`envoy` for MeshConfig's own). */
  provider: string;
  path: string;
  encoding: AccessLogEncoding;
  /** TEXT: the format string (absent: Envoy's default format). JSON: absent = Istio's default keys. */
  format?: string;
  /** JSON keys → format strings (`envoyFileAccessLog.logFormat.labels`, or a JSON `accessLogFormat`). */
  labels?: Readonly<Record<string, string>>;
}

/** Where spans go and how many. */
export interface TracingTarget {
  provider: string;
  /** Collector host and OTLP/HTTP port and path. */
  service: string;
  port: number;
  path: string;
  /** 0-100. */
  samplingPercent: number;
  /** Spans are sampled and propagated but not exported (`disableSpanReporting`). */
  reporting: boolean;
}

export interface EffectiveTelemetry {
  accessLogs: AccessLogTarget[];
  tracing?: TracingTarget;
  /** Provider names that are not defined (the generator warns about them). */
  unknownProviders: string[];
}

/** Side of the proxy: CLIENT = outbound (the app's calls), SERVER = inbound. */
export type TelemetrySide = 'CLIENT' | 'SERVER';

function covers(mode: TelemetryMode, side: TelemetrySide): boolean {
  return mode === 'CLIENT_AND_SERVER' || mode === side;
}

/** The oldest Telemetry of each scope that covers the workload: mesh (root namespace), namespace, workload (selector). */
export function telemetryScopes(snapshot: MeshSnapshot, target: PolicyTarget): TelemetryModel[] {
  const root = snapshot.mesh.rootNamespace;
  let mesh: TelemetryModel | undefined;
  let namespace: TelemetryModel | undefined;
  let workload: TelemetryModel | undefined;
  for (const t of snapshot.telemetries ?? []) {
    if (t.selector === undefined) {
      if (t.namespace === root) mesh ??= t;
      else if (t.namespace === target.namespace) namespace ??= t;
    } else if (t.namespace === target.namespace && selectorMatches(t.selector, target.labels)) workload ??= t;
  }
  return [mesh, namespace, workload].filter((t) => t !== undefined);
}

/** What a proxy of `target` logs and traces on `side`. */
export function telemetryFor(
  snapshot: MeshSnapshot,
  target: PolicyTarget,
  side: TelemetrySide,
): EffectiveTelemetry {
  const mesh = snapshot.mesh.telemetry ?? {};
  const scopes = telemetryScopes(snapshot, target);
  const unknownProviders: string[] = [];
  // Access logging: MeshConfig's accessLogFile (or default providers) turns it on everywhere.
  const defaultLog = mesh.defaultProviders?.accessLogging ?? ['envoy'];
  let logProviders: readonly string[] = defaultLog;
  let logOn = Boolean(mesh.accessLogFile) || mesh.defaultProviders?.accessLogging !== undefined;
  for (const scope of scopes)
    for (const rule of scope.accessLogging ?? []) {
      if (!covers(rule.mode, side)) continue;
      if (rule.providers !== undefined) logProviders = rule.providers;
      logOn = rule.disabled !== true;
    }
  const accessLogs: AccessLogTarget[] = [];
  if (logOn)
    for (const name of logProviders) {
      const target = accessLogProvider(mesh, name);
      if (target) accessLogs.push(target);
      else unknownProviders.push(name);
    }
  return { accessLogs, tracing: tracingFor(mesh, scopes, side, unknownProviders), unknownProviders };
}

function accessLogProvider(mesh: MeshTelemetry, name: string): AccessLogTarget | undefined {
  const p = mesh.extensionProviders?.find((x) => x.name === name);
  if (p?.kind === 'envoyFileAccessLog')
    return {
      provider: name,
      path: p.path,
      encoding: p.labels ? 'JSON' : 'TEXT',
      format: p.text,
      labels: p.labels,
    };
  if (p !== undefined || name !== 'envoy') return undefined;
  const encoding = mesh.accessLogEncoding ?? 'TEXT';
  const path = mesh.accessLogFile || '/dev/stdout';
  if (encoding === 'TEXT')
    return { provider: name, path, encoding, format: mesh.accessLogFormat || undefined };
  return { provider: name, path, encoding, labels: jsonFormat(mesh.accessLogFormat) };
}

/** A JSON `accessLogFormat` is a JSON object of format strings (Istio); empty = the default keys. */
function jsonFormat(text: string | undefined): Record<string, string> | undefined {
  return text ? parseJsonFormat(text) : undefined;
}

/** Parses a JSON `accessLogFormat`: an object whose values are format strings; undefined when it is not one. */
export function parseJsonFormat(text: string): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') return undefined;
    out[k] = v;
  }
  return out;
}

function tracingFor(
  mesh: MeshTelemetry,
  scopes: TelemetryModel[],
  side: TelemetrySide,
  unknownProviders: string[],
): TracingTarget | undefined {
  let providers: readonly string[] = mesh.defaultProviders?.tracing ?? [];
  let sampling = DEFAULT_SAMPLING_PERCENT;
  let reporting = true;
  for (const scope of scopes)
    for (const rule of scope.tracing ?? []) {
      if (!covers(rule.mode, side)) continue;
      if (rule.providers !== undefined) providers = rule.providers;
      if (rule.randomSamplingPercentage !== undefined) sampling = rule.randomSamplingPercentage;
      if (rule.disableSpanReporting !== undefined) reporting = !rule.disableSpanReporting;
    }
  const name = providers[0];
  if (name === undefined) return undefined;
  const p = mesh.extensionProviders?.find((x) => x.name === name);
  if (p?.kind !== 'opentelemetry') {
    unknownProviders.push(name);
    return undefined;
  }
  return {
    provider: name,
    service: p.service,
    port: p.port,
    path: p.path,
    samplingPercent: sampling,
    reporting,
  };
}
