// `weft history KIND NAME`: the past revisions of one resource, newest last.
import { type Command, Option } from 'commander';
import { environment } from '../env.ts';
import { ApiClient } from './client.ts';
import { age } from './get.ts';

interface HistoryOptions {
  namespace: string;
  output?: 'json';
  server: string;
}

export function register(program: Command): void {
  program
    .command('history')
    .description(
      'show the past revisions of one resource (weft rollback KIND NAME --to REVISION restores one)',
    )
    .argument('<kind>', 'resource kind or alias')
    .argument('<name>', 'resource name')
    .option('-n, --namespace <namespace>', 'namespace', 'default')
    .addOption(new Option('-o, --output <format>', 'print the entries as json').choices(['json']))
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (kind: string, name: string, opts: HistoryOptions) => {
      const { items } = await new ApiClient(opts.server).history(kind, opts.namespace, name);
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        return;
      }
      const rows = [
        ['REVISION', 'CHANGE', 'GENERATION', 'AGE'],
        ...items.map((e, i) => [
          String(e.revision),
          e.type === 'delete'
            ? 'deleted'
            : i === 0 || items[i - 1].type === 'delete'
              ? 'created'
              : 'configured',
          e.type === 'put' ? String(e.resource.metadata.generation ?? '') : '',
          age(e.at),
        ]),
      ];
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const row of rows)
        process.stdout.write(
          `${row
            .map((cell, c) => cell.padEnd(widths[c] + 3))
            .join('')
            .trimEnd()}\n`,
        );
    });
}
