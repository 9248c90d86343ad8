// Istio Telemetry (telemetry.istio.io v1, v1alpha1) → TelemetryModel: access logging and tracing per mesh, namespace or workload.
import type { TelemetryMode, TelemetryModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { Reader } from '../read.ts';
import { boolean, defined, list, nonEmptyString, numberIn, object, oneOf, readObject } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { readSelector } from './workload-selector.ts';

const MODES: readonly TelemetryMode[] = ['CLIENT', 'SERVER', 'CLIENT_AND_SERVER'];

/** `providers: [{name}]`. */
const providers: Reader<string[]> = list(object((f) => f.required('name', nonEmptyString)));

/** `match: {mode}`; absent = CLIENT_AND_SERVER. */
function readMode(f: Parameters<Parameters<typeof object>[0]>[0]): TelemetryMode {
  return (
    f.optional(
      'match',
      object((m) => m.optional('mode', oneOf(MODES))),
    ) ?? 'CLIENT_AND_SERVER'
  );
}

const accessLogging = object(
  (f) => ({
    providers: f.optional('providers', providers),
    disabled: f.optional('disabled', boolean),
    mode: readMode(f),
  }),
  { unsupported: { filter: 'CEL filters are not evaluated by weft; use a selector to scope the log' } },
);

const tracing = object(
  (f) => ({
    providers: f.optional('providers', providers),
    randomSamplingPercentage: f.optional('randomSamplingPercentage', numberIn(0, 100)),
    disableSpanReporting: f.optional('disableSpanReporting', boolean),
    mode: readMode(f),
  }),
  {
    unsupported: {
      customTags: 'spans carry the Istio attributes only',
      useRequestIdForTraceSampling: 'sampling is random, per trace',
      enableIstioTags: 'Istio attributes are always added',
    },
  },
);

/** Reads `spec` of a Telemetry named by `context`. */
export function readTelemetry(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): TelemetryModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) =>
      defined<TelemetryModel>({
        name: context.name,
        namespace: context.namespace,
        selector: readSelector(f),
        accessLogging: f.optional('accessLogging', list(accessLogging)),
        tracing: f.optional('tracing', list(tracing)),
      }),
    {
      unsupported: {
        metrics: "Istio's standard metrics are always on; metric overrides are not implemented",
      },
    },
  );
}
