// The weft CLI entry: builds the command tree, parses argv, and turns errors into exit codes.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { WeftError } from '../errors.ts';
import { LOG_LEVELS, setLogLevel } from '../observe/log.ts';
import { type CommandEntry, commands, type RegisterCommand } from './commands.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Options every command inherits. */
export interface GlobalOptions {
  /** Print stack traces for errors. */
  verbose?: boolean;
  /** pino level for this process. */
  logLevel?: string;
}

/**
 * Builds the command tree. Commands in `loaded` are registered in full (flags and action); the
 * others only by name and summary, so `weft --help` lists every command without importing them.
 */
export function buildProgram(loaded: ReadonlyMap<string, RegisterCommand> = new Map()): Command {
  const program = new Command('weft')
    .description(
      'weft: a service mesh for Kubernetes and plain hosts (mTLS, traffic control, golden metrics).',
    )
    .version(pkg.version, '-V, --version', 'print the weft version')
    .option('--verbose', 'print stack traces for errors')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', (cmd) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      if (opts.logLevel) setLogLevel(opts.logLevel);
    });
  // Options are positional so that a command may own a flag the program also has
  // (`weft proxy --version v2`); the global flags are repeated on every command instead.
  program.enablePositionalOptions();
  for (const entry of commands) {
    const register = loaded.get(entry.name);
    if (register) register(program);
    else program.command(entry.name).description(entry.summary).allowUnknownOption().allowExcessArguments();
  }
  for (const sub of program.commands) {
    sub.exitOverride().showHelpAfterError('(run with --help for usage)');
    if (!sub.options.some((o) => o.long === '--verbose'))
      sub.option('--verbose', 'print stack traces for errors');
    if (!sub.options.some((o) => o.long === '--log-level'))
      sub.addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS));
  }
  return program;
}

/** Runs the CLI; resolves to the process exit code (undefined means leave it alone, e.g. servers). */
export async function main(argv: string[]): Promise<number | undefined> {
  const verbose = argv.includes('--verbose');
  try {
    const program = buildProgram(await loadCommands(commandNamed(argv)));
    await program.parseAsync(argv);
    return undefined;
  } catch (err) {
    return reportError(err, verbose);
  }
}

/** The command argv asks for (`weft [global flags] NAME ...` or `weft help NAME`), if it is one of ours. */
export function commandNamed(argv: string[]): CommandEntry | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') return undefined;
    if (arg === '--log-level') {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    const name = arg === 'help' ? args[i + 1] : arg;
    return commands.find((c) => c.name === name);
  }
  return undefined;
}

/** Imports the module of `entry` and of the commands it needs. */
async function loadCommands(entry: CommandEntry | undefined): Promise<Map<string, RegisterCommand>> {
  const loaded = new Map<string, RegisterCommand>();
  if (!entry) return loaded;
  for (const name of [...(entry.needs ?? []), entry.name]) {
    const needed = commands.find((c) => c.name === name);
    if (needed) loaded.set(name, (await needed.load()).register);
  }
  return loaded;
}

/** Prints an error the way a user should see it and returns the exit code. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof CommanderError) {
    // commander has already printed help or the parse error.
    return err.exitCode === 0 ? 0 : 1;
  }
  if (err instanceof WeftError && err.userError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
  if (err instanceof WeftError) {
    // Not the user's input but a deliberate stop (e.g. a damaged data directory): say which one.
    process.stderr.write(`weft: ${err.code}: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`weft: internal error: ${message}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('(run with --verbose for the stack trace)\n');
  return 2;
}
