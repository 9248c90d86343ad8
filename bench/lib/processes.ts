// Child processes of a benchmark run: started with a readiness check, stopped, and always cleaned up (also on Ctrl-C).
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';

/** How to start one long-running child (a server, a proxy). */
export interface StartOptions {
  /** Short name used in logs and error messages. */
  name: string;
  command: string;
  args: string[];
  /** Extra environment (merged over the harness's own). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Ready once a line of stdout or stderr matches this. */
  readyLine?: RegExp;
  /** Ready once 127.0.0.1:readyPort accepts a TCP connection. */
  readyPort?: number;
  /** Give up (and kill the child) after this long; default 30 s. */
  readyTimeoutMs?: number;
  /** Signal that stops it cleanly; default SIGTERM. */
  stopSignal?: NodeJS.Signals;
}

/** How a child ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Output kept per child for diagnostics (the tail only). */
const KEEP_CHARS = 64 * 1024;

/** A running child process. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  /** The match of `readyLine`, when one was given. */
  readyMatch: RegExpMatchArray | null = null;
  private stdoutText = '';
  private stderrText = '';
  private exitInfo: ExitInfo | undefined;
  private readonly stopSignal: NodeJS.Signals;

  constructor(name: string, child: ChildProcess, stopSignal: NodeJS.Signals) {
    this.name = name;
    this.process = child;
    this.stopSignal = stopSignal;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        running.delete(this);
        resolve(this.exitInfo);
      });
      child.on('error', () => {
        if (this.exitInfo) return;
        this.exitInfo = { code: null, signal: null };
        running.delete(this);
        resolve(this.exitInfo);
      });
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdoutText = (this.stdoutText + d).slice(-KEEP_CHARS);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderrText = (this.stderrText + d).slice(-KEEP_CHARS);
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** The tail of what it printed. */
  output(): { stdout: string; stderr: string } {
    return { stdout: this.stdoutText, stderr: this.stderrText };
  }

  /** Stops it (its stop signal, then SIGKILL after `graceMs`) and waits for the exit. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.process.kill(this.stopSignal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

const running = new Set<Child>();

/** The last line it printed (for a one-line reason), then up to 15 lines of its output. */
function describe(child: Child): string {
  const { stdout, stderr } = child.output();
  const lines = `${stdout}\n${stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0) return '(no output)';
  return `${lines[lines.length - 1]}\n${lines.slice(-15).join('\n')}`;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts a child and resolves once it is ready; kills it and rejects if it exits or times out first. */
export async function startChild(options: StartOptions): Promise<Child> {
  const proc = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = new Child(options.name, proc, options.stopSignal ?? 'SIGTERM');
  running.add(child);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lines = '';
  const onLine = (d: string) => {
    if (child.readyMatch || !options.readyLine) return;
    lines = (lines + d).slice(-KEEP_CHARS);
    for (const line of lines.split('\n')) {
      const match = options.readyLine.exec(line);
      if (match) {
        child.readyMatch = match;
        return;
      }
    }
  };
  proc.stdout?.on('data', onLine);
  proc.stderr?.on('data', onLine);
  for (;;) {
    if (!child.alive) {
      const info = await child.exited;
      throw new Error(
        `${options.name} exited (${info.code ?? info.signal}) before it was ready: ${describe(child)}`,
      );
    }
    const lineReady = !options.readyLine || child.readyMatch !== null;
    const portReady = options.readyPort === undefined || (await portAccepts(options.readyPort));
    if (lineReady && portReady && child.alive) return child;
    if (Date.now() > deadline) {
      await child.stop(500);
      throw new Error(`${options.name} was not ready after ${timeoutMs} ms: ${describe(child)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What a finished command printed. */
export interface RunResult extends ExitInfo {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion (a load generator), keeping all of its output; it is
 * tracked like any child, so Ctrl-C stops it too. `timeoutMs` kills it (SIGKILL).
 */
export function runCommand(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<RunResult> {
  const proc = spawn(command, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = new Child(name, proc, 'SIGTERM');
  running.add(child);
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs);
  return new Promise((resolve, reject) => {
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Stops every child still running (each with its stop signal, then SIGKILL). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop(2000)));
}

let installed = false;

/**
 * Makes sure no child outlives the harness: Ctrl-C / SIGTERM stop them all and run
 * `cleanup` (temp dirs), and a plain exit SIGKILLs whatever is left.
 */
export function installCleanup(cleanup: () => Promise<void>): void {
  if (installed) return;
  installed = true;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      for (const c of running) c.process.kill('SIGKILL');
      process.exit(130);
    }
    signalled = true;
    process.stderr.write(`\n${signal}: stopping every process the benchmark started...\n`);
    stopAll()
      .then(cleanup)
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const c of running) c.process.kill('SIGKILL');
  });
}
