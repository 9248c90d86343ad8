// The lazy command table: every entry's module registers the command it names, and help lists them all unloaded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { commands } from '../src/cli/commands.ts';
import { buildProgram, commandNamed } from '../src/cli/main.ts';

test('each table entry loads a module that registers exactly the command it names', async () => {
  for (const entry of commands) {
    const program = new Command('weft').enablePositionalOptions();
    for (const need of entry.needs ?? []) {
      const needed = commands.find((c) => c.name === need);
      assert.ok(needed, `${entry.name} needs unknown command ${need}`);
      (await needed.load()).register(program);
    }
    const before = program.commands.length;
    (await entry.load()).register(program);
    assert.equal(program.commands.length, before + 1, entry.name);
    assert.equal(program.commands.at(-1)?.name(), entry.name);
  }
});

test('without loaded modules, the program lists every command with its summary', () => {
  const program = buildProgram();
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    commands.map((c) => c.name),
  );
  for (const c of program.commands)
    assert.equal(c.description(), commands.find((e) => e.name === c.name())?.summary);
});

test('the command to load is found after global flags and in `help NAME`', () => {
  const argv = (...args: string[]) => ['node', 'weft', ...args];
  assert.equal(commandNamed(argv('proxy', '--service', 'x'))?.name, 'proxy');
  assert.equal(commandNamed(argv('--log-level', 'debug', '--verbose', 'get', 'vs'))?.name, 'get');
  assert.equal(commandNamed(argv('help', 'run'))?.name, 'run');
  assert.equal(commandNamed(argv('--help')), undefined);
  assert.equal(commandNamed(argv('no-such-command')), undefined);
});
