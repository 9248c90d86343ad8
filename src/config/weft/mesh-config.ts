// weft MeshConfig (weft.dev/v1alpha1): mesh-wide settings Istio keeps in its MeshConfig, applied at run time.
import type { DefaultExportTo, MeshConfigModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { defaultExportTo, type ResourceContext } from '../istio/common.ts';
import { defined, object, oneOf, readObject } from '../read.ts';
import { readMeshTelemetry } from './mesh-telemetry.ts';

/** Reads `spec` of a MeshConfig named by `context`: the fields of Istio's MeshConfig that weft honours. */
export function readMeshConfig(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): MeshConfigModel | undefined {
  return readObject(check, spec, ['spec'], (f) =>
    defined<MeshConfigModel>({
      name: context.name,
      namespace: context.namespace,
      outboundTrafficPolicy: f.optional(
        'outboundTrafficPolicy',
        object((o) => o.required('mode', oneOf(['ALLOW_ANY', 'REGISTRY_ONLY']))),
      ),
      pathNormalization: f.optional(
        'pathNormalization',
        object((o) =>
          o.required('normalization', oneOf(['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'])),
        ),
      ),
      telemetry: readMeshTelemetry(f),
      defaultExportTo: nonEmpty(
        defined<DefaultExportTo>({
          service: f.optional('defaultServiceExportTo', defaultExportTo),
          virtualService: f.optional('defaultVirtualServiceExportTo', defaultExportTo),
          destinationRule: f.optional('defaultDestinationRuleExportTo', defaultExportTo),
        }),
      ),
    }),
  );
}

function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length === 0 ? undefined : value;
}
