// `weft analyze [-f FILES]`: problems that are valid YAML but wrong as a mesh, each with file, line and a fix hint.
import { type Command, Option } from 'commander';
import { analyze, placeFinding } from '../analysis/analyze.ts';
import { formatFinding } from '../analysis/format.ts';
import type { PlacedFinding } from '../analysis/types.ts';
import { parseResources } from '../config/parse.ts';
import { snapshotFromResources } from '../control/compiled-store.ts';
import { environment } from '../env.ts';
import { DEFAULT_MESH } from '../model/mesh.ts';
import { readSources } from './apply.ts';
import { ApiClient } from './client.ts';

interface AnalyzeOptions {
  filename: string[];
  recursive?: boolean;
  namespace?: string;
  local?: boolean;
  output?: 'json';
  server: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Files alone, without a control plane: no workloads, so host and selector checks do not run. */
function analyzeLocally(opts: AnalyzeOptions): PlacedFinding[] {
  const parsed = readSources(opts.filename, opts.recursive ?? false).flatMap((source) =>
    parseResources(source.text, source.file, { defaultNamespace: opts.namespace }),
  );
  const resources = parsed.map((p) => p.resource);
  const snapshot = snapshotFromResources({ resources, workloads: [], mesh: DEFAULT_MESH, version: 0 });
  const byKey = new Map(
    parsed.map((p) => [`${p.resource.kind}/${p.resource.metadata.namespace}/${p.resource.metadata.name}`, p]),
  );
  return analyze({ resources, snapshot, workloadsKnown: false }).map((finding) =>
    placeFinding(finding, (f) => {
      const p = byKey.get(`${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`);
      return p && { file: p.location.file, line: p.location.line, ...p.place?.(f.path) };
    }),
  );
}

export function register(program: Command): void {
  program
    .command('analyze')
    .description(
      'find problems that are valid YAML but wrong as a mesh, in -f files over what the control plane holds (no -f: what it holds)',
    )
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'also read the directories below a -f directory')
    .option('-n, --namespace <namespace>', 'namespace for documents that name none (default "default")')
    .option('--local', 'analyze the -f files alone, without a control plane (skips host and selector checks)')
    .addOption(new Option('-o, --output <format>', 'print the findings as json').choices(['json']))
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (opts: AnalyzeOptions) => {
      const findings = opts.local
        ? analyzeLocally(opts)
        : (
            await new ApiClient(opts.server).analyze(
              opts.filename.length === 0 ? [] : readSources(opts.filename, opts.recursive ?? false),
              opts.namespace,
            )
          ).findings;
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify({ findings }, null, 2)}\n`);
        return;
      }
      for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`);
      process.stderr.write(
        findings.length === 0
          ? 'No problems found.\n'
          : `${findings.length} problem${findings.length === 1 ? '' : 's'} found.\n`,
      );
    });
}
