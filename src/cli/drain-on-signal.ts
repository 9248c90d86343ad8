// SIGINT/SIGTERM handling shared by `weft proxy` and `weft gateway`: drain once, exit on a second signal.
import type { Logger } from '../observe/log.ts';
import type { Sidecar } from '../proxy/sidecar.ts';

/**
 * On the first SIGINT or SIGTERM the sidecar stops accepting and drains (up to its drain
 * timeout), then the process exits 0; a second signal exits 1 at once without draining.
 */
export function drainOnSignal(sidecar: Sidecar, drainTimeoutMs: number, log: Logger): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs }, 'draining');
    sidecar.shutdown().then(
      (outcome) => {
        log.info({ outcome }, 'stopped');
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 500).unref();
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
