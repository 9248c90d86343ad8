// Serves weft's .ts modules from a cache of type-stripped JavaScript, so that a weft process does not load
// Node's TypeScript stripper (~20 MB resident, docs/design/sidecar-memory.md); `node bin/strip-cache.js --fill` fills it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC_URL = new URL('../src/', import.meta.url).href;
const SRC = fileURLToPath(SRC_URL);
const CACHE = fileURLToPath(new URL('../node_modules/.cache/weft/js/', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** The cache file of one source file: keyed by its path, size and mtime, so an edit is never served stale. */
export function cacheFile(path) {
  const st = statSync(path);
  const key = createHash('sha1').update(`${path}\0${st.size}\0${st.mtimeMs}`).digest('hex');
  return join(CACHE, `${key}.js`);
}

function readCached(path) {
  try {
    return readFileSync(cacheFile(path), 'utf8');
  } catch {
    return undefined;
  }
}

/** Strips every .ts file under src/ that has no cache entry yet (run in a child: it loads the stripper). */
function fill() {
  mkdirSync(CACHE, { recursive: true });
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const file = cacheFile(path);
        try {
          statSync(file);
          continue;
        } catch {
          // not cached yet
        }
        // 'strip' mode blanks the types in place, so line and column numbers stay those of the .ts file.
        const js = stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, js);
        renameSync(tmp, file);
      }
    }
  };
  walk(SRC);
}

/** Installs the load hook: src/**.ts from the cache, filled by a child process on the first miss. */
export function installStripCache() {
  let filled = false;
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith(SRC_URL) && url.endsWith('.ts')) {
        const path = fileURLToPath(url);
        let source = readCached(path);
        if (source === undefined && !filled) {
          filled = true;
          try {
            execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', SELF, '--fill'], {
              stdio: 'ignore',
            });
          } catch {
            // not writable or failed: Node strips the file itself below
          }
          source = readCached(path);
        }
        if (source !== undefined) return { format: 'module', source, shortCircuit: true };
      }
      return nextLoad(url, context);
    },
  });
}

if (process.argv[1] === SELF && process.argv[2] === '--fill') fill();
