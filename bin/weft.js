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
// `weft proxy` is a sidecar: a young generation of 2 MiB semi-spaces (V8's default grows them to
// 16 MiB) keeps ~12 MB less resident at the same throughput (docs/performance.md). V8 reads the
// flag only at start, so the process re-executes itself with it (same pid) unless the user chose
// a size (`node --max-semi-space-size=N bin/weft.js proxy` or NODE_OPTIONS).
const SEMI_SPACE = '--max-semi-space-size';
if (
  process.argv[2] === 'proxy' &&
  typeof process.execve === 'function' &&
  !process.execArgv.some((a) => a.startsWith(SEMI_SPACE)) &&
  !(process.env.NODE_OPTIONS ?? '').includes(SEMI_SPACE)
)
  process.execve(process.execPath, [
    process.execPath,
    `${SEMI_SPACE}=2`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
// weft's modules come type-stripped from a cache, so the process never loads Node's stripper.
const { installStripCache } = await import('./strip-cache.js');
installStripCache();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
if (code !== undefined) process.exitCode = code;
