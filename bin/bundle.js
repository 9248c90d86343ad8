// `weft proxy` as one CommonJS file: built with esbuild from src/ on first start into a cache, rebuilt when an input changes.
//
// One script instead of ~230 ES modules saves an idle sidecar ~3 MB private memory (no module records or
// ES module loader, less source text: docs/design/sidecar-memory.md). The build runs in a child process
// (`node bin/bundle.js --build NAME`), so a sidecar never loads esbuild; without a bundle weft runs its sources.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
export const BUNDLE_CACHE = join(ROOT, 'node_modules', '.cache', 'weft', 'bundle');
/** The sidecar commands: each runs from its own bundle (main.ts and that command's module graph). */
export const BUNDLED_COMMANDS = ['proxy', 'node'];
/** The bundle of a multi-core proxy's worker process, built with (and beside) the proxy's. */
export const WORKER = 'proxy-worker.cjs';

/**
 * The bundle of `command`, built first if it is missing or any input changed since (a child process
 * runs esbuild); undefined when it cannot be built (then weft runs from its sources).
 * @param {string} command
 * @param {string} [cache]
 * @returns {string | undefined}
 */
export function bundleFor(command, cache = BUNDLE_CACHE) {
  if (!BUNDLED_COMMANDS.includes(command)) return undefined;
  if (isCurrent(command, cache)) return bundleFile(command, cache);
  try {
    execFileSync(process.execPath, [SELF, '--build', command, cache], { stdio: 'ignore', timeout: 120_000 });
  } catch {
    return undefined;
  }
  return isCurrent(command, cache) ? bundleFile(command, cache) : undefined;
}

/** @param {string} command @param {string} cache */
export const bundleFile = (command, cache) => join(cache, `${command}.cjs`);
/** @param {string} command @param {string} cache */
export const manifestFile = (command, cache) => join(cache, `${command}.json`);

/**
 * True when the bundle's files exist and every input it was built from has the size and mtime it had then.
 * @param {string} command
 * @param {string} cache
 */
export function isCurrent(command, cache) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile(command, cache), 'utf8'));
    for (const name of manifest.outputs) statSync(join(cache, name));
  } catch {
    return false;
  }
  if (manifest.node !== process.version || !Array.isArray(manifest.inputs)) return false;
  return manifest.inputs.every(([path, size, mtimeMs]) => {
    try {
      const st = statSync(join(ROOT, path));
      return st.size === size && st.mtimeMs === mtimeMs;
    } catch {
      return false;
    }
  });
}

/** The entry (no file: esbuild reads it from stdin, as if it were src/cli/ENTRY_NAME): the CLI's main, as bin/weft.js runs it. */
const ENTRY_NAME = 'bundle-entry.ts';
const ENTRY = `import { main } from './main.ts';
main(process.argv).then((code) => { if (code !== undefined) process.exitCode = code; });`;

/**
 * esbuild plugin: every src/ module keeps its own import.meta.url (paths it resolves stay those of the
 * sources); other commands and packages imported with import() stay outside the bundle (loaded only when used).
 */
function sourcesPlugin(command) {
  const commandsModule = join(ROOT, 'src', 'cli', 'commands.ts');
  const own = join(ROOT, 'src', 'cli', `${command}.ts`);
  return {
    name: 'weft-sources',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        if (!args.path.startsWith('.')) return { path: args.path, external: true };
        const path = join(args.resolveDir, args.path);
        if (args.importer === commandsModule && path !== own)
          return { path: pathToFileURL(path).href, external: true };
        return undefined;
      });
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!args.path.startsWith(join(ROOT, 'src'))) return undefined;
        const text = readFileSync(args.path, 'utf8')
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
          .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
          .replaceAll('import.meta.main', 'false');
        return { contents: asciiOnly(text), loader: 'ts' };
      });
      build.onLoad({ filter: /\.[cm]?js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        return NON_ASCII.test(text) ? { contents: asciiOnly(text), loader: 'js' } : undefined;
      });
    },
  };
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The text with every non-ASCII character as a \\uXXXX escape (same meaning in strings, regular
 * expressions and names). esbuild escapes strings but not regular expression literals, and one
 * character beyond Latin-1 makes V8 keep the whole bundle's source two bytes per character (+0.65 MB).
 */
function asciiOnly(text) {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The files of `command`'s bundle: the CLI and, for `weft proxy`, the process of each multi-core worker. */
function targets(command, cache) {
  const cli = {
    stdin: { contents: ENTRY, loader: 'ts', resolveDir: join(ROOT, 'src', 'cli'), sourcefile: ENTRY_NAME },
    outfile: bundleFile(command, cache),
  };
  if (command !== 'proxy') return [cli];
  // src/proxy/workers/worker-pool.ts forks it when the primary runs from proxy.cjs.
  const worker = {
    entryPoints: [join('src', 'proxy', 'workers', 'worker-main.ts')],
    outfile: join(cache, WORKER),
  };
  return [cli, worker];
}

/** Builds the bundle of `command` and its manifest (in this process: run as `--build`). */
async function build(command, cache) {
  const esbuild = await import('esbuild');
  const outputs = [];
  const inputs = new Set([relative(ROOT, SELF), join('node_modules', 'esbuild', 'package.json')]);
  for (const target of targets(command, cache)) {
    const result = await esbuild.build({
      ...target,
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      // Whitespace and syntax only: names stay, and --verbose stack traces map to src/ (bin/weft.js).
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: 'linked',
      sourcesContent: false,
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [sourcesPlugin(command)],
    });
    // A warning (e.g. an import.meta this bundle cannot give) means the bundle would not run as the sources do.
    if (result.warnings.length > 0) throw new Error(result.warnings.map((w) => w.text).join('\n'));
    const script = result.outputFiles.find((file) => file.path === target.outfile);
    if (NON_ASCII.test(script?.text ?? '')) throw new Error('the bundle is not ASCII');
    outputs.push(...result.outputFiles);
    for (const path of Object.keys(result.metafile.inputs))
      if (path !== join('src', 'cli', ENTRY_NAME)) inputs.add(path);
  }
  mkdirSync(cache, { recursive: true });
  for (const file of outputs) writeAtomically(file.path, file.contents);
  const stats = [...inputs].map((path) => {
    const st = statSync(join(ROOT, path));
    return [path, st.size, st.mtimeMs];
  });
  const names = outputs.map((file) => relative(cache, file.path));
  writeAtomically(
    manifestFile(command, cache),
    JSON.stringify({ node: process.version, outputs: names, inputs: stats }),
  );
}

function writeAtomically(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

if (process.argv[1] === SELF && process.argv[2] === '--build')
  await build(process.argv[3], process.argv[4] ?? BUNDLE_CACHE);
