// glibc's malloc_trim for the idle release: a Node-API addon (bin/malloc-trim.c) built with the host's C compiler on first start, cached.
//
// Why not an FFI package (koffi): loading it cost an idle sidecar more private memory than the
// trim gives back (docs/design/sidecar-memory.md). Built like the bundle: once, into
// node_modules/.cache/weft, again when the source is newer. Not Linux with glibc, or no C compiler
// (`CC`, else `cc`): no addon, and the sidecar runs without the trim.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./malloc-trim.c', import.meta.url));
export const ADDON_CACHE = fileURLToPath(new URL('../node_modules/.cache/weft/native/', import.meta.url));

/**
 * The path of the addon, built first if it is missing or older than its source; undefined when it cannot be built.
 * @param {string} [cache]
 * @param {string} [compiler]
 * @returns {string | undefined}
 */
export function mallocTrimAddon(cache = ADDON_CACHE, compiler = process.env.CC || 'cc') {
  if (process.platform !== 'linux') return undefined;
  const addon = join(cache, `malloc-trim-${process.arch}.node`);
  try {
    if (statSync(addon).mtimeMs >= statSync(SOURCE).mtimeMs) return addon;
  } catch {
    // Not built yet.
  }
  const tmp = `${addon}.${process.pid}.tmp`;
  try {
    mkdirSync(cache, { recursive: true });
    // -z now: a symbol this libc lacks fails the load (then no trim), not the first call.
    execFileSync(compiler, ['-shared', '-fPIC', '-O2', '-Wl,-z,now', '-o', tmp, SOURCE], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    renameSync(tmp, addon);
    return addon;
  } catch {
    rmSync(tmp, { force: true });
    return undefined;
  }
}
