// Types of bin/sidecar-flags.js (plain JavaScript: bin/ runs before the type-stripping cache is installed).

/** One default flag of `weft proxy` and the option names that mean the user already chose it. */
export interface SidecarFlag {
  flag: string;
  given: string[];
}

export const SIDECAR_FLAGS: SidecarFlag[];

export function sidecarFlagsToAdd(execArgv: readonly string[], nodeOptions: string): string[];
