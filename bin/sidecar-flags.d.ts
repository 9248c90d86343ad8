// Types of bin/sidecar-flags.js (plain JavaScript: bin/ runs before the type-stripping cache is installed).

/** One default flag of `weft proxy` and the option names that mean the user already chose it. */
export interface SidecarFlag {
  flag: string;
  given: string[];
}

export const SIDECAR_FLAGS: SidecarFlag[];

/** Environment variables the sidecar re-executes itself with, unless already set. */
export const SIDECAR_ENV: Readonly<Record<string, string>>;

export function sidecarFlagsToAdd(
  execArgv: readonly string[],
  nodeOptions: string,
  env?: Readonly<Record<string, string | undefined>>,
): string[];

export function sidecarEnvToAdd(
  env: Readonly<Record<string, string | undefined>>,
  added?: readonly string[],
): Record<string, string>;
