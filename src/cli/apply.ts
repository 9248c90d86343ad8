// `weft apply -f FILE|DIR|-`: sends resources to the control plane; a multi-document apply is atomic.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Command } from 'commander';
import type { ApiSource, ResourceRef } from '../control/api/types.ts';
import { environment } from '../env.ts';
import { UsageError } from '../errors.ts';
import { ApiClient } from './client.ts';

/** File name endings read from a directory. */
const RESOURCE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read standard input: ${(err as Error).message}`);
  }
}

function filesIn(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...filesIn(path, recursive));
    } else if (RESOURCE_EXTENSIONS.has(extname(entry.name).toLowerCase())) out.push(path);
  }
  return out;
}

/**
 * Reads every `-f` argument: a file, a directory (its .yaml/.yml/.json files, sorted; with
 * `recursive` also those below), or `-` for standard input. Names are kept as given, so errors
 * point at `vs.yaml:12`.
 */
export function readSources(paths: string[], recursive: boolean): ApiSource[] {
  if (paths.length === 0)
    throw new UsageError('name what to send with -f FILE, -f DIR or -f - (standard input)');
  const sources: ApiSource[] = [];
  for (const path of paths) {
    if (path === '-') {
      sources.push({ file: '-', text: readStdin() });
      continue;
    }
    let files: string[];
    try {
      files = statSync(path).isDirectory() ? filesIn(path, recursive) : [path];
    } catch (err) {
      throw new UsageError(
        `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    if (files.length === 0) throw new UsageError(`${path} holds no .yaml, .yml or .json files`);
    for (const file of files) {
      try {
        sources.push({ file, text: readFileSync(file, 'utf8') });
      } catch (err) {
        throw new UsageError(
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
  }
  return sources;
}

/** kubectl's name for a resource type: `virtualservice.networking.istio.io` (core kinds: `service`). */
export function typeName(ref: Pick<ResourceRef, 'apiVersion' | 'kind'>): string {
  const slash = ref.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
  return group === '' ? ref.kind.toLowerCase() : `${ref.kind.toLowerCase()}.${group}`;
}

interface ApplyOptions {
  filename: string[];
  recursive?: boolean;
  namespace?: string;
  server: string;
}

export function register(program: Command): void {
  program
    .command('apply')
    .description('create or update resources from files, a directory or stdin (all documents or none)')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'also read the directories below a -f directory')
    .option('-n, --namespace <namespace>', 'namespace for documents that name none (default "default")')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .action(async (opts: ApplyOptions) => {
      const sources = readSources(opts.filename, opts.recursive ?? false);
      const response = await new ApiClient(opts.server).apply(sources, opts.namespace);
      // As kubectl: files with no documents (empty, only comments or `---`) are a mistake, not a no-op.
      if (response.results.length === 0)
        throw new UsageError(
          `no objects passed to apply: ${opts.filename.join(', ')} holds no resource documents`,
        );
      for (const warning of response.warnings) process.stderr.write(`Warning: ${warning.message}\n`);
      for (const result of response.results)
        process.stdout.write(`${typeName(result)}/${result.name} ${result.action}\n`);
    });
}
