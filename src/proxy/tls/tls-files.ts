// Which files a proxy reads when xDS names a TLS file: only those inside the operator's TLS directories.
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { environment } from '../../env.ts';

/** The allowed directories, resolved (symbolic links followed) once. */
let allowed: string[] | undefined;

function allowedDirs(): string[] {
  allowed ??= environment.tlsFileDirs.map((dir) => {
    try {
      return realpathSync(resolve(dir));
    } catch {
      return resolve(dir);
    }
  });
  return allowed;
}

/** For tests: replace the allowed directories (undefined: back to WEFT_TLS_FILE_DIRS). */
export function setTlsFileDirs(dirs: string[] | undefined): void {
  allowed = dirs?.map((dir) => realpathSync(resolve(dir)));
}

/**
 * Reads a PEM file named by xDS, or explains why not. The path must be absolute and, with every
 * symbolic link and `..` resolved, lie inside one of the allowed directories: whoever controls the
 * configuration cannot make a proxy read its own token, its key or any other file of its host.
 */
export function readTlsFile(file: string): { pem: string } | { error: string } {
  if (!isAbsolute(file)) return { error: `${file} is not an absolute path` };
  let real: string;
  try {
    real = realpathSync(file);
  } catch (err) {
    return { error: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})` };
  }
  const dirs = allowedDirs();
  if (!dirs.some((dir) => real.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`)))
    return {
      error: `${file} is outside the directories TLS files are read from (${dirs.join(', ')}; set WEFT_TLS_FILE_DIRS)`,
    };
  try {
    return { pem: readFileSync(real, 'utf8') };
  } catch (err) {
    return { error: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})` };
  }
}
