// A process the demo started: its own process group, its output in a log file, readiness read from that log.
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { ChildExit } from '../run/child.ts';
import { UnitChild } from '../run/child.ts';

/** What to start. */
export interface DemoChildSpec {
  /** How the demo names it (`control plane`, `reviews v2`). */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** stdout and stderr go here. */
  logFile: string;
}

/** How waiting for a child's ready line ended. */
export type ReadyLine =
  | { outcome: 'ready'; match: RegExpMatchArray }
  | { outcome: 'exited' | 'timed-out' | 'aborted' };

export class DemoChild {
  readonly name: string;
  readonly logFile: string;
  readonly process: UnitChild;

  private constructor(name: string, logFile: string, process: UnitChild) {
    this.name = name;
    this.logFile = logFile;
    this.process = process;
  }

  /** Starts the child as the leader of its own process group (Ctrl-C reaches only the demo). */
  static async start(spec: DemoChildSpec): Promise<DemoChild> {
    const fd = openSync(spec.logFile, 'a');
    try {
      const child = await UnitChild.start({
        name: spec.name,
        command: spec.command,
        args: spec.args,
        env: spec.env,
        stdio: ['ignore', fd, fd],
      });
      if (!(child instanceof UnitChild)) throw new Error(child.message);
      return new DemoChild(spec.name, spec.logFile, child);
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number {
    return this.process.pid;
  }

  /** Everything the child wrote so far. */
  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last `lines` lines of output, for error messages. */
  tail(lines = 15): string {
    return this.output().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Polls the log until a line matches `pattern`, the child exits, `timeoutMs` passes or `signal` aborts. */
  async waitFor(pattern: RegExp, timeoutMs: number, signal: AbortSignal): Promise<ReadyLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.output().split('\n')) {
        const match = pattern.exec(line);
        if (match) return { outcome: 'ready', match };
      }
      if (this.process.exit) return { outcome: 'exited' };
      if (signal.aborted) return { outcome: 'aborted' };
      if (Date.now() > deadline) return { outcome: 'timed-out' };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM to its group, SIGKILL after `timeoutMs`. */
  stop(timeoutMs: number): Promise<ChildExit> {
    return this.process.stop('SIGTERM', timeoutMs);
  }

  /** Last resort, synchronous: SIGKILL its group. */
  kill(): void {
    this.process.kill();
  }
}
