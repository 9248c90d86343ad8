// A benchmark that lives in its own script (bench/NAME.ts, owned by another part): run it as a child, keep its section.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, type Benchmark, REPO } from './context.ts';
import { runCommand } from './processes.ts';

/** How to run the script and where its section lives. */
export interface ExternalOptions {
  name: string;
  title: string;
  /** Flags for a full run (the script writes its own section of docs/benchmarks.md). */
  fullArgs: string[];
  /** Flags for a --quick smoke run. */
  quickArgs: string[];
  /** The script's flag that stops it writing the document (it prints its table instead). */
  noWriteFlag: string;
  /** True when the run writes the default docs/benchmarks.md, which the script writes itself. */
  defaultDoc: boolean;
  /** Longest the script may take (ms). */
  timeoutMs: number;
}

/**
 * Runs `node bench/NAME.ts`. A full run into docs/benchmarks.md lets the script write its own
 * section, which is kept as it is (run returns undefined). A --quick run, or a run into another
 * file (--out), passes the script's no-write flag: the real section is not replaced by smoke
 * figures; with --out its printed table becomes the section of that file. A missing script is
 * said so.
 */
export function externalBenchmark(o: ExternalOptions): Benchmark {
  const script = join(REPO, 'bench', `${o.name}.ts`);
  return {
    name: o.name,
    title: o.title,
    tools: [],
    external: true,
    async run(ctx: BenchContext) {
      if (!existsSync(script))
        return `\`bench/${o.name}.ts\` is not part of this build, so this was not measured.`;
      const writesItself = o.defaultDoc && !ctx.quick;
      const args = [
        script,
        ...(ctx.quick ? o.quickArgs : o.fullArgs),
        ...(writesItself ? [] : [o.noWriteFlag]),
      ];
      ctx.log(`${o.name}: node bench/${o.name}.ts ${args.slice(1).join(' ')}`);
      const result = await runCommand(o.name, ctx.node, args, { timeoutMs: o.timeoutMs });
      process.stderr.write(result.stderr);
      if (result.code !== 0)
        throw new Error(
          `bench/${o.name}.ts exited with ${result.code ?? result.signal}; its section was left as it was:\n${result.stdout}${result.stderr}`.trim(),
        );
      process.stderr.write(result.stdout);
      if (writesItself || o.defaultDoc) return undefined;
      return `Printed by \`node bench/${o.name}.ts ${args.slice(1).join(' ')}\`:\n\n${result.stdout.trim()}`;
    },
  };
}
