// `weft get workloads` and `weft get endpoints`: what the control plane's registry holds, as proxies are served it.
import type { WorkloadView } from '../control/xds/wiring.ts';
import { ApiClient } from './client.ts';

/** The kinds (and aliases) that name the registry rather than stored resources. */
const REGISTRY_KINDS: Record<string, 'workloads' | 'endpoints'> = {
  workload: 'workloads',
  workloads: 'workloads',
  wl: 'workloads',
  endpoint: 'endpoints',
  endpoints: 'endpoints',
  ep: 'endpoints',
};

/** `workloads`/`endpoints` for a kind `weft get` was given, or undefined for a stored kind. */
export function registryKind(kind: string): 'workloads' | 'endpoints' | undefined {
  return REGISTRY_KINDS[kind.toLowerCase()];
}

/** The body of `GET /api/v1/workloads`. */
export interface WorkloadsResponse {
  workloads: WorkloadView[];
  endpoints: { host: string; endpoints: WorkloadView[] }[];
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

const where = (w: WorkloadView) =>
  w.inboundPort === undefined ? w.address : `${w.address}:${w.inboundPort}`;

/** The table for one view, only rows in `namespace` (all when undefined); '' when there is none. */
export function formatRegistry(
  view: 'workloads' | 'endpoints',
  body: WorkloadsResponse,
  namespace: string | undefined,
): string {
  const mine = (w: WorkloadView) => namespace === undefined || w.namespace === namespace;
  if (view === 'workloads') {
    const rows = body.workloads
      .filter(mine)
      .map((w) => [w.name, w.namespace, where(w), w.serviceAccount, w.health, w.source]);
    return rows.length === 0
      ? ''
      : pad([['NAME', 'NAMESPACE', 'ADDRESS', 'SERVICE ACCOUNT', 'HEALTH', 'SOURCE'], ...rows]);
  }
  const rows = body.endpoints.flatMap(({ host, endpoints }) =>
    endpoints.filter(mine).map((w) => [host, where(w), w.health, `${w.namespace}/${w.name}`]),
  );
  return rows.length === 0 ? '' : pad([['HOST', 'ENDPOINT', 'HEALTH', 'WORKLOAD'], ...rows]);
}

/** Prints the registry view; `json` prints the API's answer as it came. */
export async function getRegistry(
  server: string,
  view: 'workloads' | 'endpoints',
  namespace: string | undefined,
  output: 'yaml' | 'json' | undefined,
): Promise<void> {
  const body = await new ApiClient(server).workloads();
  if (output === 'json') {
    process.stdout.write(
      `${JSON.stringify(view === 'workloads' ? body.workloads : body.endpoints, null, 2)}\n`,
    );
    return;
  }
  const text = formatRegistry(view, body, namespace);
  if (text === '')
    process.stderr.write(
      namespace === undefined ? `No ${view} found.\n` : `No ${view} found in ${namespace} namespace.\n`,
    );
  else process.stdout.write(`${text}\n`);
}
