// Waiting for configuration to reach processes: retry a check with generous bounds (the machine is shared).

/** A check still running at `deadline` fails here instead of hanging the test: its message says which. */
function bounded<T>(attempt: Promise<T>, deadline: number, what: string): Promise<T> {
  const left = Math.max(deadline - Date.now(), 1_000);
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what}: one check was still running after ${left} ms`)),
      left,
    );
  });
  return Promise.race([attempt, stuck]).finally(() => clearTimeout(timer));
}

/** Runs `check` until it stops throwing; after `timeoutMs` its last error is thrown. */
export async function eventually(
  check: () => Promise<void>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await bounded(check(), deadline, 'a check to pass');
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/**
 * Polls `check` until it answers true (a throw counts as false); after `timeoutMs` it fails
 * naming `what` and the check's last error, if any. A check that never returns fails the same way.
 */
export async function eventuallyTrue(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await bounded(Promise.resolve(check()), deadline, what)) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}
