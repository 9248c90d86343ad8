// A bench context for tests that start a bench path: quick durations, the tools found on this machine, its own temp dir.
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, QUICK } from '../../bench/lib/context.ts';
import { findTools } from '../../bench/lib/tools.ts';

/** A quiet, quick context whose temp dir is named after `prefix`. */
export function quickContext(prefix: string): BenchContext {
  return {
    quick: true,
    durations: QUICK,
    tools: findTools(),
    tmp: mkdtempSync(join(tmpdir(), prefix)),
    node: process.execPath,
    cores: cpus().length,
    log: () => {},
  };
}
