// Types of bin/bundle.js (plain JavaScript: bin/ runs before the type-stripping cache is installed).

/** Where bundles and their manifests are cached (node_modules/.cache/weft/bundle). */
export const BUNDLE_CACHE: string;

/** The commands that run from a bundle. */
export const BUNDLED_COMMANDS: string[];

/** The bundle of `command`, built first when missing or stale; undefined when it cannot be built. */
export function bundleFor(command: string, cache?: string): string | undefined;

/** The bundle file of `command` in `cache`. */
export function bundleFile(command: string, cache: string): string;

/** The manifest (inputs with size and mtime) of `command`'s bundle in `cache`. */
export function manifestFile(command: string, cache: string): string;

/** True when the bundle exists and none of its inputs changed since it was built. */
export function isCurrent(command: string, cache: string): boolean;

/** The file name of a multi-core proxy's worker bundle (beside the proxy's). */
export const WORKER: string;
