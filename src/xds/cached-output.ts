// The output of a generator script, cached under node_modules/.cache/weft (else the temp dir) and keyed by what it depends on.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What to cache: the script that prints it, and what it depends on. */
export interface CachedOutputConfig {
  /** File name prefix (`envoy-protos`). */
  name: string;
  /** Versions the output depends on: a cached copy is reused only while they are unchanged. */
  key: string;
  /** The script (a file URL) that prints the output; it runs in a child process, whose memory the caller never pays. */
  script: URL;
  /** Computes the output in this process when the child fails. */
  inProcess: () => string;
}

function cacheFiles(c: CachedOutputConfig): string[] {
  const name = `${c.name}-${createHash('sha256').update(c.key).digest('hex').slice(0, 16)}.json`;
  return [
    join(fileURLToPath(new URL('../../node_modules/.cache/weft/', import.meta.url)), name),
    join(tmpdir(), 'weft-cache', name),
  ];
}

/** The cached output, or the script's output (then cached in the first writable place). */
export function cachedOutput(c: CachedOutputConfig): string {
  const files = cacheFiles(c);
  for (const file of files) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      // not cached there (or unreadable): try the next place, then generate
    }
  }
  let text: string;
  try {
    text = execFileSync(process.execPath, [fileURLToPath(c.script)], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch {
    return c.inProcess();
  }
  for (const file of files) {
    try {
      mkdirSync(join(file, '..'), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file);
      break;
    } catch {
      // not writable: try the next place (the output is still returned)
    }
  }
  return text;
}
