// RE2 regexes (re2js), loaded on first use: a sidecar whose config has no regex never loads the library (~0.7 MB of heap).
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

let loaded: typeof RE2JS | undefined;

/** The RE2JS class; the first call loads re2js (synchronously: config compilation is synchronous). */
export function re2(): typeof RE2JS {
  loaded ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return loaded;
}
