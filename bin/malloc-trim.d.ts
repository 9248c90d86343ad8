// Types of bin/malloc-trim.js (plain JavaScript: bin/ runs before the type-stripping cache is installed).
/** Where bin/weft.js builds the addon. */
export const ADDON_CACHE: string;
/** The addon's path, built first if missing or older than its source; undefined when it cannot be built. */
export function mallocTrimAddon(cache?: string, compiler?: string): string | undefined;
