// Waits for a sidecar's admin `/ready` to answer 200, polling until a deadline or until told to stop.
import { request } from 'undici';

/** How the wait ended; `last` says what the admin port answered the last time (for the error message). */
export type ReadyOutcome =
  | { outcome: 'ready' }
  | { outcome: 'timed-out'; last: string }
  | { outcome: 'aborted'; last: string };

/** Time between two polls. */
const POLL_MS = 100;

/** Polls `url` (GET) until it answers 200, `timeoutMs` passes, or `signal` aborts. */
export async function waitForReady(
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ReadyOutcome> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (!signal.aborted) {
    try {
      const res = await request(url, { method: 'GET', headersTimeout: 2000, bodyTimeout: 2000, signal });
      const body = (await res.body.text()).trim();
      if (res.statusCode === 200) return { outcome: 'ready' };
      last = `HTTP ${res.statusCode}${body ? ` ${body.slice(0, 80)}` : ''}`;
    } catch (err) {
      if (signal.aborted) break;
      last = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    if (Date.now() >= deadline) return { outcome: 'timed-out', last };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return { outcome: 'aborted', last };
}

/** Why the control plane at `server` cannot be reached (`ECONNREFUSED`, ...), or undefined when it answers at all. */
export async function probeServer(server: string): Promise<string | undefined> {
  try {
    const res = await request(new URL('/ready', server), {
      method: 'GET',
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    await res.body.dump();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}
