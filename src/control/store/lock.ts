// A pid lock file that keeps two live control planes from appending to the same store files.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { DataDirInUseError } from '../../errors.ts';

/** Outcome of probing a pid found in a lock file. */
type Holder = 'alive' | 'gone';

function probe(pid: number): Holder {
  if (!Number.isInteger(pid) || pid <= 0) return 'gone';
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'gone';
  }
}

/** A held lock; `release` removes the file. */
export interface DirLock {
  release(): void;
}

/**
 * Takes `path` for this process. A lock left by a process that no longer runs (e.g. after
 * `kill -9`) is taken over; one held by a live process throws DataDirInUseError.
 */
export function acquireLock(path: string): DirLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release: () => {
          try {
            unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = Number.NaN;
    try {
      pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    } catch {
      // Vanished between open and read: retry.
    }
    if (probe(pid) === 'alive')
      throw new DataDirInUseError(
        `${path} is held by running process ${pid}: stop it or use another --data-dir`,
      );
    try {
      unlinkSync(path);
    } catch {
      // Someone else removed it first; the retry decides.
    }
  }
  throw new DataDirInUseError(`${path}: could not take the lock, another process keeps taking it`);
}
