// Checks a server command makes before it touches anything: its ports are free and its data directory is usable.
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { PortInUseError, UsageError } from '../errors.ts';

/** Binds `host:port` and releases it at once; a taken port is a PortInUseError naming the flag. Port 0 is always free. */
export function requireFreePort(flag: string, host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is in use by another process'
          : `cannot be bound (${err.code ?? err.message})`;
      reject(
        new PortInUseError(`${flag} ${host}:${port} ${why}: stop that process or pick another ${flag}`, err),
      );
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Creates `dir` (and its parents) when missing; a path that cannot be a directory is a UsageError naming the flag. */
export function requireDataDir(flag: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const why =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? 'is not a directory (a file is in the way)'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'cannot be written by this user'
          : `cannot be created (${code})`;
    throw new UsageError(`${flag} ${dir} ${why}: pass a directory weft may create and write`);
  }
}
