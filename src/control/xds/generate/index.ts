// The generators by type URL: (snapshot, proxy, requested names) → resources.
import { TYPE_URL } from '../types.ts';
import { generateClusters } from './cds.ts';
import type { GenerateContext, GeneratedResource } from './common.ts';
import { generateEndpoints } from './eds.ts';
import { generateListeners } from './lds.ts';
import { generateRoutes } from './rds.ts';

export type { GenerateContext, GeneratedResource, Warn } from './common.ts';

/** A generator: `names` undefined means a wildcard subscription (everything this proxy should have). */
export type Generator = (ctx: GenerateContext, names: readonly string[] | undefined) => GeneratedResource[];

/** The types weft generates, in the order pushes send them (make before break: CDS, EDS, LDS, RDS). */
export const GENERATORS: ReadonlyMap<string, Generator> = new Map<string, Generator>([
  [TYPE_URL.cluster, generateClusters],
  [TYPE_URL.endpoint, generateEndpoints],
  [TYPE_URL.listener, generateListeners],
  [TYPE_URL.route, generateRoutes],
]);

/** Types whose state-of-the-world responses must carry the full set (a missing resource is deleted). */
export const FULL_STATE_TYPES: ReadonlySet<string> = new Set([TYPE_URL.listener, TYPE_URL.cluster]);
