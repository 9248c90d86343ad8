// glibc's malloc_trim(0) for the idle release: gives back malloc memory freed in the middle of the arena, through a tiny addon.
//
// glibc returns freed memory to the kernel only from the top of its arena (M_TRIM_THRESHOLD); what
// OpenSSL, nghttp2 and Node's buffers freed below live blocks stays resident until malloc_trim()
// madvises those pages away. Node cannot call it: bin/weft.js builds a Node-API addon that does
// (bin/malloc-trim.js) and names it in WEFT_MALLOC_TRIM_ADDON. No addon (not Linux with glibc, no
// C compiler, the sources run without bin/weft.js), or it fails to load: no trim, one debug line,
// nothing else changes (docs/design/sidecar-memory.md).
import { UsageError } from '../../errors.ts';
import { logger } from '../../observe/log.ts';

/** Calls malloc_trim(0); true when it gave memory back to the kernel. */
export type MallocTrim = () => boolean;

/** Whether WEFT_MALLOC_TRIM lets the idle release trim (unset or `on`); a clear error for a value that means neither. */
export function mallocTrimEnabled(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'on') return true;
  if (value === 'off') return false;
  throw new UsageError(`WEFT_MALLOC_TRIM must be "on" or "off", not ${JSON.stringify(value)}`);
}

/** malloc_trim from the addon at `addon`, or undefined (logged once at debug level) when there is none or it does not load. */
export function loadMallocTrim(addon: string | undefined): MallocTrim | undefined {
  const log = logger({ component: 'idle-release' });
  if (addon === undefined) {
    log.debug('no malloc_trim: no addon (not Linux with glibc, or no C compiler when weft first started)');
    return undefined;
  }
  try {
    const module = { exports: {} as unknown };
    process.dlopen(module, addon);
    if (typeof module.exports !== 'function') throw new Error('the addon exports no function');
    return module.exports as MallocTrim;
  } catch (err) {
    log.debug({ addon, err: (err as Error).message }, 'no malloc_trim: the addon did not load');
    return undefined;
  }
}
