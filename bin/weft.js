#!/usr/bin/env node
// The weft command: loads the TypeScript CLI with Node's built-in type stripping (Node 22.18+).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  // An older Node on the PATH (e.g. `weft` installed with `npm install -g .`): run on the Node.js
  // that `npm install` pinned into this checkout's node_modules, when it is there.
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `error: weft needs Node.js 22.18 or newer, this is ${process.version}; run \`npm install\` in the weft checkout (it pins Node.js 24), or upgrade Node.js [WEFT_USAGE]\n`,
    );
    process.exit(1);
  }
  const { spawn } = await import('node:child_process');
  const child = spawn(pinned, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  // The child gets the signals this process gets (a terminal's Ctrl-C reaches both already).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  child.on('error', (err) => {
    process.stderr.write(`error: cannot run ${pinned}: ${err.message} [WEFT_USAGE]\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
} else await start();

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }[signal];
}

async function start() {
  // `weft proxy` (and `weft node`, the sidecars of many workloads) is a sidecar, idle most of its life: it runs with V8/Node flags
  // and malloc settings that keep less resident (bin/sidecar-flags.js). V8 reads them only at start, so the process re-executes itself
  // with them (same pid); a flag the user chose (node command line or NODE_OPTIONS) wins.
  // Both run from one bundled script instead of src/ (bin/bundle.js: built on first start, ~3 MB less
  // private memory per sidecar); --verbose maps its stack traces back to src/.
  if ((process.argv[2] === 'proxy' || process.argv[2] === 'node') && typeof process.execve === 'function') {
    const { sidecarEnvToAdd, sidecarFlagsToAdd } = await import('./sidecar-flags.js');
    const added = sidecarFlagsToAdd(process.execArgv, process.env.NODE_OPTIONS ?? '', process.env);
    const env = sidecarEnvToAdd(process.env, added);
    // glibc's malloc_trim for the idle release (bin/malloc-trim.js: built on first start; WEFT_MALLOC_TRIM=off: none).
    if (process.env.WEFT_MALLOC_TRIM !== 'off') {
      const { mallocTrimAddon } = await import('./malloc-trim.js');
      const addon = mallocTrimAddon();
      if (addon) env.WEFT_MALLOC_TRIM_ADDON = addon;
    }
    const { bundleFor } = await import('./bundle.js');
    const bundle = bundleFor(process.argv[2]);
    const script = bundle ? [bundle, ...process.argv.slice(2)] : process.argv.slice(1);
    if (bundle && process.argv.includes('--verbose')) added.push('--enable-source-maps');
    if (added.length > 0 || Object.keys(env).length > 0 || bundle)
      process.execve(process.execPath, [process.execPath, ...added, ...process.execArgv, ...script], {
        ...process.env,
        ...env,
      });
  }
  // weft's modules come type-stripped from a cache, so the process never loads Node's stripper.
  const { installStripCache } = await import('./strip-cache.js');
  installStripCache();
  const { main } = await import('../src/cli/main.ts');
  // Not awaited at the top level: a server exits from a signal handler while main's promise is
  // still pending, and Node would warn about an unsettled top-level await.
  main(process.argv).then((code) => {
    if (code !== undefined) process.exitCode = code;
  });
}
