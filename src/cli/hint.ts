// How to write a weft command in a hint the user can paste anywhere: `weft` when it is on the PATH, else node + this bin.
import { realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

function realpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** True when `weft` on the PATH is this checkout's bin/weft.js (`npm install -g .` or `npm link`). */
export function weftOnPath(path = process.env.PATH ?? ''): boolean {
  const self = realpath(BIN);
  return path.split(delimiter).some((dir) => dir !== '' && realpath(join(dir, 'weft')) === self);
}

/** The command prefix for hints: `weft`, or `node /abs/path/bin/weft.js` when weft is not installed. */
export function weftCommand(): string {
  return weftOnPath() ? 'weft' : `node ${BIN}`;
}
