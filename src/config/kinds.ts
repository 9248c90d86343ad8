// The resource kinds weft accepts: names for the CLI (`vs`, `dr`, ...) and the reader of each kind's spec.
import type { DestinationRuleModel, Service, VirtualServiceModel, Workload } from '../model/types.ts';
import type { Check } from './check.ts';
import type { ResourceContext } from './istio/common.ts';
import { readDestinationRule } from './istio/destination-rule.ts';
import { readServiceEntry } from './istio/service-entry.ts';
import { readVirtualService } from './istio/virtual-service.ts';
import { readWorkloadEntry } from './istio/workload-entry.ts';

export interface KindInfo {
  /** The Kind as written in documents, e.g. `VirtualService`. */
  kind: string;
  /** Accepted `apiVersion` values (group/version); the first is the preferred one. */
  apiVersions: string[];
  /** Lower-case plural, e.g. `virtualservices`. */
  plural: string;
  /** Short names, e.g. `vs`. */
  shortNames: string[];
  namespaced: boolean;
}

/** What reading a resource's spec yields for the model. */
export type CompiledSpec =
  | { kind: 'VirtualService'; virtualService: VirtualServiceModel }
  | { kind: 'DestinationRule'; destinationRule: DestinationRuleModel }
  | { kind: 'ServiceEntry'; services: Service[] }
  | { kind: 'WorkloadEntry'; workload: Workload };

/** A kind and how to read its spec (issues go to `check`, paths start at `spec`). */
export interface KindDefinition extends KindInfo {
  read(check: Check, spec: unknown, context: ResourceContext): CompiledSpec | undefined;
}

const ISTIO_NETWORKING = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
];

const DEFINITIONS: readonly KindDefinition[] = [
  {
    kind: 'VirtualService',
    apiVersions: ISTIO_NETWORKING,
    plural: 'virtualservices',
    shortNames: ['vs'],
    namespaced: true,
    read: (check, spec, context) => {
      const virtualService = readVirtualService(check, spec, context);
      return virtualService && { kind: 'VirtualService', virtualService };
    },
  },
  {
    kind: 'DestinationRule',
    apiVersions: ISTIO_NETWORKING,
    plural: 'destinationrules',
    shortNames: ['dr'],
    namespaced: true,
    read: (check, spec, context) => {
      const destinationRule = readDestinationRule(check, spec, context);
      return destinationRule && { kind: 'DestinationRule', destinationRule };
    },
  },
  {
    kind: 'ServiceEntry',
    apiVersions: ISTIO_NETWORKING,
    plural: 'serviceentries',
    shortNames: ['se'],
    namespaced: true,
    read: (check, spec, context) => {
      const services = readServiceEntry(check, spec, context);
      return services && { kind: 'ServiceEntry', services };
    },
  },
  {
    kind: 'WorkloadEntry',
    apiVersions: ISTIO_NETWORKING,
    plural: 'workloadentries',
    shortNames: ['we'],
    namespaced: true,
    read: (check, spec, context) => {
      const workload = readWorkloadEntry(check, spec, context);
      return workload && { kind: 'WorkloadEntry', workload };
    },
  },
];

function info(definition: KindDefinition): KindInfo {
  return {
    kind: definition.kind,
    apiVersions: [...definition.apiVersions],
    plural: definition.plural,
    shortNames: [...definition.shortNames],
    namespaced: definition.namespaced,
  };
}

/** The definition of a Kind exactly as documents write it (`VirtualService`), or undefined. */
export function kindDefinition(kind: string): KindDefinition | undefined {
  return DEFINITIONS.find((definition) => definition.kind === kind);
}

/**
 * Looks up a kind by any of: Kind, kind in any case, plural, short name (`vs`, `dr`, `se`, `we`),
 * each optionally followed by its API group (`virtualservices.networking.istio.io`).
 */
export function resolveKind(name: string): KindInfo | undefined {
  const wanted = name.trim().toLowerCase();
  for (const definition of DEFINITIONS) {
    const names = [definition.kind.toLowerCase(), definition.plural, ...definition.shortNames];
    const groups = new Set(definition.apiVersions.map((version) => version.split('/')[0]));
    for (const candidate of names)
      if (wanted === candidate || [...groups].some((group) => wanted === `${candidate}.${group}`))
        return info(definition);
  }
  return undefined;
}

export function listKinds(): KindInfo[] {
  return DEFINITIONS.map(info);
}
