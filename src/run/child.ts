// A process of a unit (sidecar or app): its own process group, signalled as a group, stopped with a deadline.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { constants } from 'node:os';

/** How a child ended: an exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What to start. */
export interface ChildSpec {
  /** How messages name it: `the sidecar`, `the app`. */
  name: string;
  /** Executable (looked up in PATH) and its arguments. */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  stdio: StdioOptions;
  /** Group to run as (transparent capture matches the app's sockets by it). */
  gid?: number;
}

/** Why a child could not be started: the executable is missing, or not executable. */
export type SpawnFailure = { outcome: 'not-found' | 'not-executable' | 'failed'; message: string };

/** The exit code a shell would report: the code, or 128 + the signal's number. */
export function exitCodeOf(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  return 128 + (exit.signal ? (constants.signals[exit.signal] ?? 0) : 0);
}

/** `code 3` or `signal SIGKILL`, for messages. */
export function describeExit(exit: ChildExit): string {
  return exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`;
}

export class UnitChild {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ChildExit>;
  /** Set once the process has exited. */
  exit: ChildExit | undefined;
  private constructor(name: string, child: ChildProcess, pid: number) {
    this.name = name;
    this.pid = pid;
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /**
   * Starts the process as the leader of a new process group (and session), so a terminal's
   * Ctrl-C reaches only `weft run`, which decides who is signalled and when.
   */
  static start(spec: ChildSpec): Promise<UnitChild | SpawnFailure> {
    return new Promise((resolve) => {
      const child = spawn(spec.command, spec.args, {
        env: spec.env,
        stdio: spec.stdio,
        detached: true,
        ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        const outcome =
          err.code === 'ENOENT' ? 'not-found' : err.code === 'EACCES' ? 'not-executable' : 'failed';
        resolve({ outcome, message: `cannot start ${spec.name} (${spec.command}): ${err.message}` });
      });
      child.once('spawn', () => resolve(new UnitChild(spec.name, child, child.pid as number)));
    });
  }

  /** Sends `signal` to the child's whole process group (its own children too); no-op once gone. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is gone already.
    }
  }

  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILLs the group; resolves with how it exited. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ChildExit> {
    if (this.exit) {
      this.signal(signal); // leftovers of the group, if any
      return this.exit;
    }
    this.signal(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timed-out') this.signal('SIGKILL');
    return this.exited;
  }

  /** Last resort when `weft run` itself is exiting: SIGKILL the group, synchronously. */
  kill(): void {
    if (!this.exit) this.signal('SIGKILL');
  }
}
