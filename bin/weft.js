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
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
if (code !== undefined) process.exitCode = code;
