// fs.readFile as a promise, without node:fs/promises: that module (and the readline modules it loads) costs an idle sidecar ~0.3 MB.
import { readFile as readFileCallback } from 'node:fs';
import { promisify } from 'node:util';

/** Reads a whole file, as `fs/promises`' readFile does. */
export const readFile = promisify(readFileCallback);
