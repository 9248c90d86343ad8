// `weft get KIND [NAME]`: shows resources as a table, YAML or JSON.
import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import type { Resource } from '../config/resource.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ApiClient } from './client.ts';
import { getRegistry, registryKind } from './get-registry.ts';

interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: 'yaml' | 'json';
  server: string;
}

/** kubectl's short ages: 45s, 12m, 5h, 3d. */
export function age(created: string | undefined, now: number = Date.now()): string {
  const since = created === undefined ? Number.NaN : now - Date.parse(created);
  if (!Number.isFinite(since)) return '<unknown>';
  const seconds = Math.max(0, Math.floor(since / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

function table(resources: Resource[]): string {
  const rows = [
    ['NAME', 'NAMESPACE', 'REVISION', 'AGE'],
    ...resources.map((r) => [
      r.metadata.name,
      r.metadata.namespace,
      r.metadata.resourceVersion ?? '',
      age(r.metadata.creationTimestamp),
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export function register(program: Command): void {
  program
    .command('get')
    .description(
      'show resources of a kind (any alias: virtualservice, virtualservices, vs), or what the registry holds: workloads, endpoints',
    )
    .argument('<kind>', 'resource kind or alias')
    .argument('[name]', 'one resource by name')
    .option('-n, --namespace <namespace>', 'namespace (default "default")')
    .option('-A, --all-namespaces', 'list across every namespace')
    .addOption(
      new Option('-o, --output <format>', 'print whole resources as yaml or json').choices(['yaml', 'json']),
    )
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (kind: string, name: string | undefined, opts: GetOptions) => {
      if (opts.allNamespaces && (name !== undefined || opts.namespace !== undefined))
        throw new UsageError('-A lists every namespace: drop NAME and -n, or drop -A');
      const namespace = opts.allNamespaces ? undefined : (opts.namespace ?? 'default');
      const registry = registryKind(kind);
      if (registry) {
        if (name !== undefined) throw new UsageError(`weft get ${kind} lists them all: drop ${name}`);
        if (opts.output === 'yaml') throw new UsageError(`weft get ${kind} prints a table or -o json`);
        return getRegistry(opts.server, registry, namespace, opts.output);
      }
      const client = new ApiClient(opts.server);
      const resources =
        name === undefined
          ? (await client.list(kind, namespace)).items
          : [await client.get(kind, namespace ?? 'default', name)];
      if (opts.output === 'json') {
        const body = name === undefined ? { apiVersion: 'v1', kind: 'List', items: resources } : resources[0];
        process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      } else if (resources.length === 0) {
        process.stderr.write(
          namespace === undefined
            ? 'No resources found.\n'
            : `No resources found in ${namespace} namespace.\n`,
        );
      } else if (opts.output === 'yaml') {
        process.stdout.write(resources.map((r) => stringify(r)).join('---\n'));
      } else {
        process.stdout.write(`${table(resources)}\n`);
      }
    });
}
