// weft MeshConfig (weft.dev/v1alpha1): mesh-wide settings Istio keeps in its MeshConfig, applied at run time.
import type { MeshConfigModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
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
    }),
  );
}
