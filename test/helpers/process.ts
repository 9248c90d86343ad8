// Test helper: starts a long-running weft command (control plane, proxy) and waits for its ready line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { WEFT_BIN } from './cli.ts';

/** How long `stop()` waits after its signal before it kills the process. */
const STOP_GRACE_MS = 15_000;

export interface WeftProcess {
  child: ChildProcessWithoutNullStreams;
  /** The ready pattern's match on the output line that announced readiness. */
  ready: RegExpMatchArray;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 15 s); a no-op once exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `weft ...args` and resolves once a stdout line matches `ready`; rejects (and kills the
 * process) if it exits first or `timeoutMs` passes. Register `stop()` with `t.after`.
 */
export function startWeft(
  args: string[],
  options: { ready: RegExp; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<WeftProcess> {
  const child = spawn(process.execPath, [WEFT_BIN, ...args], {
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exitState: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      exitState = { code, signal };
      resolve(exitState);
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exitState) return exitState;
    child.kill(signal);
    // A process that ignores the signal (a stuck drain) must not hang the test's clean-up.
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    return exited.finally(() => clearTimeout(kill));
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `weft ${args.join(' ')} was not ready after ${options.timeoutMs ?? 30_000} ms:\n${stdout}\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (settled) return;
      for (const line of stdout.split('\n')) {
        const match = options.ready.exec(line);
        if (match) {
          settled = true;
          clearTimeout(timer);
          resolve({ child, ready: match, output: () => ({ stdout, stderr }), exited, stop });
          return;
        }
      }
    });
    exited.then(({ code, signal }) => {
      if (settled) return;
      clearTimeout(timer);
      reject(
        new Error(
          `weft ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${stdout}\n${stderr}`,
        ),
      );
    });
  });
}
