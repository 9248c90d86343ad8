// `weft restore -f FILE`: applies a `weft backup` file in batches, each one atomic, so any store takes it.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ApiClient } from './client.ts';

interface RestoreOptions {
  filename: string;
  batch: string;
  server: string;
}

export function register(program: Command): void {
  program
    .command('restore')
    .description(
      'apply a weft backup file in batches of --batch resources, each batch atomic (the etcd store takes at most 63 per apply with etcd defaults)',
    )
    .requiredOption('-f, --filename <file>', 'the file weft backup wrote')
    .option('--batch <n>', 'resources per apply', '50')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (opts: RestoreOptions) => {
      const batch = Number(opts.batch);
      if (!Number.isSafeInteger(batch) || batch < 1)
        throw new UsageError(`--batch ${opts.batch} is not a positive number`);
      let text: string;
      try {
        text = readFileSync(opts.filename, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${opts.filename}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      const documents = parseAllDocuments(text)
        .filter((d) => d.contents !== null)
        .map((d) => d.toString());
      if (documents.length === 0) throw new UsageError(`${opts.filename} holds no resources`);
      const client = new ApiClient(opts.server);
      const counts = { created: 0, configured: 0, unchanged: 0 };
      for (let from = 0; from < documents.length; from += batch) {
        const part = documents.slice(from, from + batch);
        const response = await client.apply([
          {
            file: `${opts.filename} (resources ${from + 1}-${from + part.length})`,
            text: part.join('---\n'),
          },
        ]);
        for (const r of response.results) counts[r.action]++;
      }
      process.stdout.write(
        `restored ${documents.length} resources from ${opts.filename}: ${counts.created} created, ${counts.configured} configured, ${counts.unchanged} unchanged\n`,
      );
    });
}
