// `weft backup [-o FILE]`: every resource of the control plane, read at one revision, as multi-document YAML.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { Resource } from '../config/resource.ts';
import { environment } from '../env.ts';
import { ApiClient } from './client.ts';

interface BackupOptions {
  output?: string;
  server: string;
}

/** The resource as a user would write it: no store-assigned metadata, no status. */
export function portable(resource: Resource): Record<string, unknown> {
  const { name, namespace, labels, annotations } = resource.metadata;
  return {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: resource.spec,
  };
}

export function register(program: Command): void {
  program
    .command('backup')
    .description(
      'write every resource, read at one revision, as one YAML file (weft restore -f FILE reads it back)',
    )
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (opts: BackupOptions) => {
      const { revision, items } = await new ApiClient(opts.server).listAll();
      const header = `# weft backup of ${opts.server} at revision ${revision}, ${new Date().toISOString()}: ${items.length} resources\n`;
      const text = header + items.map((r) => `---\n${stringify(portable(r))}`).join('');
      if (opts.output) {
        writeFileSync(opts.output, text, { mode: 0o600 });
        process.stderr.write(`wrote ${items.length} resources (revision ${revision}) to ${opts.output}\n`);
      } else process.stdout.write(text);
    });
}
