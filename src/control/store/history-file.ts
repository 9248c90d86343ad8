// The file store's history (`weft history`, `weft rollback`): every committed write appended to `<store dir>/history.jsonl`.
//
// Written from the store's watch right after each commit, so a crash between a commit and its
// line loses that history entry (never the commit). On open the newest HISTORY_KEPT entries of
// each resource are kept and the file is rewritten without the older ones.
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ResourceKey, resourceKeyString } from '../../config/resource.ts';
import { logger } from '../../observe/log.ts';
import type { HistoryEntry, HistoryStore, Store, StoreEvent } from './store.ts';

/** Entries kept per resource. */
export const HISTORY_KEPT = 50;
const FILE = 'history.jsonl';

function keyOfEntry(entry: HistoryEntry): string {
  const { kind, metadata } = entry.resource;
  return resourceKeyString({ kind, namespace: metadata.namespace, name: metadata.name });
}

/** `store` with a `history(key)` kept in `dir`; closing it closes `store`. */
export async function withFileHistory(store: Store, dir: string): Promise<HistoryStore> {
  const path = join(dir, FILE);
  const log = logger({ component: 'store-history' });
  const byKey = new Map<string, HistoryEntry[]>();
  const remember = (entry: HistoryEntry) => {
    const key = keyOfEntry(entry);
    const list = byKey.get(key) ?? [];
    list.push(entry);
    if (list.length > HISTORY_KEPT) list.shift();
    byKey.set(key, list);
  };
  let lines: string[] = [];
  try {
    lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as HistoryEntry;
      if (entry.revision <= store.revision()) remember(entry);
    } catch {
      // A line cut short by a crash: that entry is lost, the others stand.
    }
  }
  const kept = [...byKey.values()].flat().sort((a, b) => a.revision - b.revision);
  if (kept.length !== lines.length) {
    await writeFile(`${path}.tmp`, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
    await rename(`${path}.tmp`, path);
  }
  let writing: Promise<void> = Promise.resolve();
  const unwatch = store.watch((events: StoreEvent[]) => {
    const at = new Date().toISOString();
    const entries = events.map(
      (e): HistoryEntry => ({ revision: e.revision, type: e.type, resource: e.resource, at }),
    );
    for (const entry of entries) remember(entry);
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    writing = writing
      .then(() => appendFile(path, text))
      .catch((err: unknown) => log.error({ err, file: path }, 'could not append to the history file'));
  });
  return {
    commit: (ops) => store.commit(ops),
    get: (key) => store.get(key),
    list: (options) => store.list(options),
    revision: () => store.revision(),
    watch: (listener, options) => store.watch(listener, options),
    history: async (key: ResourceKey) => [...(byKey.get(resourceKeyString(key)) ?? [])],
    close: async () => {
      unwatch();
      await writing;
      await store.close();
    },
  };
}
