// `weft rollback KIND NAME --to REVISION`: applies a resource again as it was stored at a past revision.
import type { Command } from 'commander';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ApiClient } from './client.ts';

interface RollbackOptions {
  namespace: string;
  to: string;
  server: string;
}

export function register(program: Command): void {
  program
    .command('rollback')
    .description(
      'apply a resource again as it was at a past revision (a new revision; weft history lists them)',
    )
    .argument('<kind>', 'resource kind or alias')
    .argument('<name>', 'resource name')
    .requiredOption('--to <revision>', 'the revision to go back to')
    .option('-n, --namespace <namespace>', 'namespace', 'default')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (kind: string, name: string, opts: RollbackOptions) => {
      const revision = Number(opts.to);
      if (!Number.isSafeInteger(revision) || revision < 1)
        throw new UsageError(
          `--to ${JSON.stringify(opts.to)} is not a revision; weft history ${kind} ${name} lists them`,
        );
      const client = new ApiClient(opts.server);
      const { items } = await client.history(kind, opts.namespace, name);
      const entry = items.find((e) => e.revision === revision && e.type === 'put');
      if (!entry)
        throw new UsageError(
          `${kind} ${opts.namespace}/${name} has no stored version at revision ${revision}; it has ${items
            .filter((e) => e.type === 'put')
            .map((e) => e.revision)
            .join(', ')}`,
        );
      const { apiVersion, kind: storedKind, metadata, spec } = entry.resource;
      const document = {
        apiVersion,
        kind: storedKind,
        metadata: {
          name: metadata.name,
          namespace: metadata.namespace,
          ...(metadata.labels ? { labels: metadata.labels } : {}),
          ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
        },
        spec,
      };
      const applied = await client.apply([
        {
          file: `${storedKind} ${metadata.namespace}/${name} at revision ${revision}`,
          text: JSON.stringify(document),
        },
      ]);
      const result = applied.results[0];
      process.stdout.write(
        `${storedKind.toLowerCase()}/${name} rolled back to revision ${revision}: ${result.action} (now revision ${result.resourceVersion})\n`,
      );
    });
}
