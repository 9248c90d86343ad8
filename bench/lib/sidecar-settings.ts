// The V8 flags and environment a root's `weft proxy` runs with (its own bin/sidecar-flags.js), for benches that start its proxy code directly.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What bin/weft.js re-executes a sidecar with: flags first on the node command line, and environment variables. */
export interface SidecarSettings {
  flags: string[];
  env: Record<string, string>;
}

/**
 * The settings of the checkout at `root`, so that an A/B across roots compares each one's own
 * (an older checkout without SIDECAR_ENV gets none).
 */
export async function sidecarSettings(root: string): Promise<SidecarSettings> {
  const mod = (await import(pathToFileURL(join(root, 'bin', 'sidecar-flags.js')).href)) as {
    SIDECAR_FLAGS: { flag: string }[];
    SIDECAR_ENV?: Record<string, string>;
    sidecarEnvToAdd?: (env: Record<string, string>, added: string[]) => Record<string, string>;
  };
  const flags = mod.SIDECAR_FLAGS.map((f) => f.flag);
  const env = mod.sidecarEnvToAdd?.({}, flags) ?? { ...(mod.SIDECAR_ENV ?? {}) };
  return { flags, env };
}
