// The V8/Node flags and malloc settings `weft proxy` runs with (an idle sidecar's resident memory), minus those the user chose.
//
// Each keeps less resident at no measurable CPU cost per request (docs/design/sidecar-memory.md):
// - 2 MiB young-generation semi-spaces (V8's default grows them to 16 MiB): ~12 MB;
// - one V8 platform worker thread instead of four (fewer threads, fewer malloc arenas): ~2 MB idle, ~11 MB under load with no Maglev;
// - no Maglev (the mid-tier JIT; hot code still reaches TurboFan): ~2 MB of compiler code never paged in;
// - no Sparkplug (the baseline compiler: its code for warm functions stays resident): ~1.1 MB idle after the first
//   requests, for ~4 % more CPU per request at most (A/B in docs/design/sidecar-memory.md);
// - --use-openssl-ca: Node does not parse its bundled roots at start; with WEFT_DEFAULT_CA=deferred (below) the sidecar
//   loads Node's default CA certificates on their first use (src/proxy/tls/default-trust.ts): ~1.6 MB idle;
// - --expose-gc: the idle release (src/proxy/overload/idle-release.ts) runs full GCs once the process is idle
//   after start-up, its first requests or a burst, which give back the heap pages they committed (~110 -> ~38 MB
//   private after gRPC load).
export const SIDECAR_FLAGS = [
  { flag: '--max-semi-space-size=2', given: ['--max-semi-space-size', '--max_semi_space_size'] },
  { flag: '--v8-pool-size=1', given: ['--v8-pool-size'] },
  { flag: '--no-maglev', given: ['--maglev', '--no-maglev'] },
  { flag: '--no-sparkplug', given: ['--sparkplug', '--no-sparkplug'] },
  { flag: '--expose-gc', given: ['--expose-gc', '--expose_gc', '--no-expose-gc', '--no-expose_gc'] },
  { flag: '--use-openssl-ca', given: ['--use-openssl-ca', '--use-bundled-ca', '--use-system-ca'] },
];

/**
 * Environment of the re-executed sidecar (glibc reads it at start), each unless the user set it:
 * one malloc arena, so the memory the V8 worker and libuv threads allocate and free is reused by the
 * main thread instead of staying resident in arenas of their own (~0.5 MB idle).
 */
export const SIDECAR_ENV = { MALLOC_ARENA_MAX: '1' };

/**
 * The flags to add to a process started with `execArgv` and `nodeOptions` (NODE_OPTIONS) in `env`:
 * every default whose option the user did not set either way. Empty once they are all there.
 * @param {readonly string[]} execArgv
 * @param {string} nodeOptions
 * @param {Readonly<Record<string, string | undefined>>} [env]
 * @returns {string[]}
 */
export function sidecarFlagsToAdd(execArgv, nodeOptions, env = {}) {
  const userFlags = [...execArgv, ...nodeOptions.split(/\s+/)];
  // NODE_USE_SYSTEM_CA chooses a CA store too.
  if (env.NODE_USE_SYSTEM_CA !== undefined) userFlags.push('--use-system-ca');
  const chosen = (names) => userFlags.some((a) => names.some((n) => a === n || a.startsWith(`${n}=`)));
  return SIDECAR_FLAGS.filter((f) => !chosen(f.given)).map((f) => f.flag);
}

/**
 * The variables of SIDECAR_ENV that `env` does not set, and WEFT_DEFAULT_CA=deferred when weft
 * adds --use-openssl-ca itself (`added`: the flags sidecarFlagsToAdd gave); empty once they are all there.
 * @param {Readonly<Record<string, string | undefined>>} env
 * @param {readonly string[]} [added]
 * @returns {Record<string, string>}
 */
export function sidecarEnvToAdd(env, added = []) {
  const out = Object.fromEntries(Object.entries(SIDECAR_ENV).filter(([name]) => env[name] === undefined));
  if (added.includes('--use-openssl-ca')) out.WEFT_DEFAULT_CA = 'deferred';
  return out;
}
