#!/usr/bin/env node
// The weft command: loads the TypeScript CLI with Node's built-in type stripping (Node 22.18+).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `error: weft needs Node.js 22.18 or newer, this is ${process.version}.\n` +
      'Run it as `npx weft ...` or through `npm run`, which use the Node.js 24 that `npm install` pinned.\n',
  );
  process.exit(1);
}
// `weft proxy` is a sidecar, idle most of its life: it runs with V8/Node flags that keep less
// resident (bin/sidecar-flags.js). V8 reads them only at start, so the process re-executes itself
// with them (same pid); a flag the user chose (node command line or NODE_OPTIONS) wins.
if (process.argv[2] === 'proxy' && typeof process.execve === 'function') {
  const { sidecarFlagsToAdd } = await import('./sidecar-flags.js');
  const added = sidecarFlagsToAdd(process.execArgv, process.env.NODE_OPTIONS ?? '');
  if (added.length > 0)
    process.execve(process.execPath, [
      process.execPath,
      ...added,
      ...process.execArgv,
      ...process.argv.slice(1),
    ]);
}
// weft's modules come type-stripped from a cache, so the process never loads Node's stripper.
const { installStripCache } = await import('./strip-cache.js');
installStripCache();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
if (code !== undefined) process.exitCode = code;
