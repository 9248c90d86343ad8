// `weft run`'s bootstrap token: minted through the control plane's API and handed to its sidecar as a private file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A token file and the function that removes it. */
export interface TokenFile {
  /** Path of the file (mode 0600, in a 0700 directory of its own). */
  path: string;
  remove(): Promise<void>;
}

/**
 * Writes `token` where only this user can read it, for `weft proxy --token-file`. The sidecar
 * re-reads the file at every renewal, so it must stay until the unit ends.
 */
export async function writeTokenFile(token: string): Promise<TokenFile> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-run-token-'));
  const path = join(dir, 'token');
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}
