// The weft CLI entry: builds the command tree, parses argv, and turns errors into exit codes.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { environment } from '../env.ts';
import { UsageError, WeftError } from '../errors.ts';
import {
  isLogFormat,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  setLogFormat,
  setLogLevel,
} from '../observe/log.ts';
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
  /** `text` or `json` log lines (default: text on a terminal). */
  logFormat?: LogFormat;
}

/** commander's own parse errors (unknown option, missing argument) carry the usage code too. */
const OUTPUT = {
  outputError: (text: string, write: (text: string) => void) =>
    write(text.startsWith('error:') ? text.replace(/\n?$/, ' [WEFT_USAGE]\n') : text),
};

/** The global flags, added to the program and to every command. */
function addGlobalOptions(cmd: Command): void {
  if (!cmd.options.some((o) => o.long === '--verbose'))
    cmd.option('--verbose', 'print stack traces for errors');
  if (!cmd.options.some((o) => o.long === '--log-level'))
    cmd.addOption(new Option('--log-level <level>', 'log level (WEFT_LOG_LEVEL)').choices(LOG_LEVELS));
  if (!cmd.options.some((o) => o.long === '--log-format'))
    cmd.addOption(
      new Option(
        '--log-format <format>',
        'log lines as text or json (WEFT_LOG_FORMAT; default: text on a terminal, else json)',
      ).choices(LOG_FORMATS),
    );
}

/**
 * Builds the command tree. Commands in `loaded` are registered in full (flags and action); the
 * others only by name and summary, so `weft --help` lists every command without importing them.
 */
export function buildProgram(loaded: ReadonlyMap<string, RegisterCommand> = new Map()): Command {
  const program = new Command('weft')
    .description(
      'weft: a service mesh for plain hosts and laptops (mTLS, traffic control, golden metrics), configured with Istio and Gateway API YAML.',
    )
    .version(pkg.version, '-V, --version', 'print the weft version')
    .configureOutput(OUTPUT)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', (_program, action) => {
      // The command that runs holds the flags given after its name (options are positional).
      const opts = action.optsWithGlobals<GlobalOptions>();
      if (opts.logLevel) setLogLevel(opts.logLevel);
      if (opts.logFormat) setLogFormat(opts.logFormat);
    });
  addGlobalOptions(program);
  // Options are positional so that a command may own a flag the program also has
  // (`weft proxy --version v2`); the global flags are repeated on every command instead.
  program.enablePositionalOptions();
  for (const entry of commands) {
    const register = loaded.get(entry.name);
    if (register) register(program);
    else program.command(entry.name).description(entry.summary).allowUnknownOption().allowExcessArguments();
  }
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput(OUTPUT).showHelpAfterError('(run with --help for usage)');
    addGlobalOptions(sub);
  }
  return program;
}

/** Runs the CLI; resolves to the process exit code (undefined means leave it alone, e.g. servers). */
export async function main(argv: string[]): Promise<number | undefined> {
  const verbose = argv.includes('--verbose');
  try {
    if (environment.logFormat !== undefined && !isLogFormat(environment.logFormat))
      throw new UsageError(`WEFT_LOG_FORMAT ${JSON.stringify(environment.logFormat)} must be text or json`);
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
    if (arg === '--log-level' || arg === '--log-format') {
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

/** The message with its code at the end of its first line, where a user looks it up (docs/errors.md). */
export function withCode(message: string, code: string): string {
  const newline = message.indexOf('\n');
  return newline < 0
    ? `${message} [${code}]`
    : `${message.slice(0, newline)} [${code}]${message.slice(newline)}`;
}

/** Prints an error the way a user should see it and returns the exit code. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof CommanderError) {
    // commander has already printed help or the parse error.
    return err.exitCode === 0 ? 0 : 1;
  }
  if (err instanceof WeftError && err.userError) {
    process.stderr.write(`error: ${withCode(err.message, err.code)}\n`);
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
