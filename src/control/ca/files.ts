// Private files of the CA: owner-only directories and atomic, fsync'd writes with an exact mode.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Mode of directories holding keys: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of key and token files: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of public files (certificates). */
export const PUBLIC_FILE_MODE = 0o644;

/** Creates `path` (and parents) if needed and sets it to mode 0700. */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(path, PRIVATE_DIR_MODE);
}

/**
 * Writes `data` to `path` so that a reader sees either the old file or the whole new one, never a
 * torn write: temp file created with `mode` (never wider, whatever the umask), fsync, rename, fsync
 * of the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(tmp, 'wx', mode);
  try {
    await file.chmod(mode);
    await file.writeFile(data);
    await file.sync();
  } catch (err) {
    await file.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await file.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Whether a file exists (any error other than ENOENT is rethrown). */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Permission bits of a file group or others may use, e.g. `0o044`; 0 when owner-only. */
export async function nonOwnerBits(path: string): Promise<number> {
  return (await stat(path)).mode & 0o077;
}
