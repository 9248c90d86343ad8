// Black-box tests of the CLI surface: help, version, and how user errors are reported.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runCli } from './helpers/cli.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

test('weft --help lists the commands and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: weft/);
  assert.match(r.stdout, /version/);
});

test('weft --version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('every command answers --help with exit 0', async () => {
  const top = await runCli(['--help']);
  const names = [...top.stdout.split('Commands:')[1].matchAll(/^ {2}([a-z-]+)/gm)]
    .map((m) => m[1])
    .filter((n) => n !== 'help');
  assert.ok(names.length > 0);
  for (const name of names) {
    const r = await runCli([name, '--help']);
    assert.equal(r.code, 0, `${name} --help exited ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: weft ${name}`));
  }
});

test('an unknown command exits 1 with one clear line and no stack trace', async () => {
  const r = await runCli(['no-such-command']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});
