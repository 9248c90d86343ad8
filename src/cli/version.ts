// `weft version`: prints the CLI's version and the Node.js runtime it runs on.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('version')
    .description('print the weft version and the Node.js runtime')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .action((opts: { output: string }) => {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      const info = {
        weft: pkg.version,
        node: process.version,
        platform: `${process.platform}/${process.arch}`,
      };
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(info)}\n`);
      else process.stdout.write(`weft ${info.weft} (node ${info.node}, ${info.platform})\n`);
    });
}
