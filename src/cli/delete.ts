// `weft delete (-f FILE | KIND NAME)`: removes resources from the control plane (all named ones or none).
import type { Command } from 'commander';
import type { DeleteResponse } from '../control/api/types.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { readSources, typeName } from './apply.ts';
import { ApiClient } from './client.ts';

interface DeleteOptions {
  filename: string[];
  recursive?: boolean;
  namespace?: string;
  server: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  program
    .command('delete')
    .description('delete the resources named in files, or one resource by kind and name')
    .argument('[kind]', 'resource kind or alias, e.g. virtualservice, vs')
    .argument('[name]', 'resource name')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'also read the directories below a -f directory')
    .option('-n, --namespace <namespace>', 'namespace (default "default")')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (kind: string | undefined, name: string | undefined, opts: DeleteOptions) => {
      const client = new ApiClient(opts.server);
      let response: DeleteResponse;
      if (opts.filename.length > 0) {
        if (kind !== undefined) throw new UsageError('give either -f FILE or KIND NAME, not both');
        response = await client.deleteSources(
          readSources(opts.filename, opts.recursive ?? false),
          opts.namespace,
        );
      } else {
        if (kind === undefined || name === undefined)
          throw new UsageError('name what to delete: weft delete KIND NAME, or weft delete -f FILE');
        response = await client.delete(kind, opts.namespace ?? 'default', name);
      }
      for (const result of response.results)
        process.stdout.write(`${typeName(result)} "${result.name}" deleted\n`);
    });
}
