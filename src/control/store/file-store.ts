// The embedded store: an fsync'd append-only log of commits, compacted now and then into a snapshot file.
//
// Files in `dir`: `wal.log` (one framed record per commit, see record.ts), `snapshot.rec` (one
// framed record holding every resource at a revision, replaced by write-temp + fsync + rename),
// and `LOCK` (pid of the process that holds the store). Opening loads the snapshot, replays the
// log records after its revision, and cuts off a torn final record.

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, rename, rm, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Resource, ResourceKey } from '../../config/resource.ts';
import { resourceKeyString } from '../../config/resource.ts';
import { NotFoundError, StoreCorruptError } from '../../errors.ts';
import { logger } from '../../observe/log.ts';
import { acquireLock, type DirLock } from './lock.ts';
import { decodeLog, decodeSingleRecord, encodeRecord } from './record.ts';
import { deepFreeze, stampResource } from './stamp.ts';
import type { ListOptions, Store, StoreEvent, StoreOp } from './store.ts';
import { listResources } from './store.ts';
import { WatchHub } from './watch-hub.ts';

export interface FileStoreConfig {
  /** Directory that holds the store's files; created when missing. */
  dir: string;
  /** Write a snapshot and start an empty log after this many logged commits (default 1000). */
  compactEveryCommits?: number;
  /** ... or once the log is larger than this many bytes (default 64 MiB). */
  compactAtBytes?: number;
  /** Committed batches kept in memory for watches that start at an older revision (default 1000). */
  historyLimit?: number;
}

const WAL_FILE = 'wal.log';
const SNAPSHOT_FILE = 'snapshot.rec';
const LOCK_FILE = 'LOCK';
const SNAPSHOT_FORMAT = 'weft-store-snapshot/1';

/** A commit as written to the log: the stamped resources, so replay needs no clock. */
interface LogRecord {
  revision: number;
  ops: ({ type: 'put'; resource: Resource } | { type: 'delete'; key: ResourceKey })[];
}

interface SnapshotRecord {
  format: typeof SNAPSHOT_FORMAT;
  revision: number;
  resources: Resource[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKey(value: unknown): value is ResourceKey {
  return (
    isObject(value) &&
    typeof value.kind === 'string' &&
    typeof value.namespace === 'string' &&
    typeof value.name === 'string'
  );
}

function isResource(value: unknown): value is Resource {
  return (
    isObject(value) &&
    typeof value.kind === 'string' &&
    isObject(value.metadata) &&
    typeof value.metadata.name === 'string' &&
    typeof value.metadata.namespace === 'string'
  );
}

function keyOfResource(resource: Resource): string {
  return resourceKeyString({
    kind: resource.kind,
    namespace: resource.metadata.namespace,
    name: resource.metadata.name,
  });
}

function parsePayload(payload: Buffer, file: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new StoreCorruptError(`${file}: ${what} is not valid JSON`, err);
  }
  if (!isObject(value)) throw new StoreCorruptError(`${file}: ${what} is not a JSON object`);
  return value;
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written);
    written += bytesWritten;
  }
}

/** Creates `dir` (and parents) and makes the new directory entries durable. */
async function makeDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  let path = dir;
  const chain: string[] = [];
  while (path !== dirname(created)) {
    path = dirname(path);
    chain.push(path);
  }
  for (const parent of chain.reverse()) await fsyncDir(parent);
}

/** The embedded, file-backed Store (see the file comment for the layout). */
export class FileStore implements Store {
  readonly #dir: string;
  readonly #compactEveryCommits: number;
  readonly #compactAtBytes: number;
  readonly #resources = new Map<string, Resource>();
  readonly #log = logger({ component: 'store' });
  #hub!: WatchHub;
  #revision = 0;
  #wal!: FileHandle;
  #walBytes = 0;
  #walRecords = 0;
  #lock!: DirLock;
  #queue: Promise<unknown> = Promise.resolve();
  #state: 'open' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  /** Set when the log could not be brought back to a known state after a failed write. */
  #failure: Error | undefined;

  private constructor(config: FileStoreConfig) {
    this.#dir = config.dir;
    this.#compactEveryCommits = config.compactEveryCommits ?? 1000;
    this.#compactAtBytes = config.compactAtBytes ?? 64 * 1024 * 1024;
  }

  /** Opens (or creates) the store in `config.dir`; rejects with StoreCorruptError on damaged files. */
  static async open(config: FileStoreConfig): Promise<FileStore> {
    const store = new FileStore(config);
    await makeDir(config.dir);
    store.#lock = acquireLock(join(config.dir, LOCK_FILE));
    try {
      const replayed = await store.#load();
      store.#hub = new WatchHub({ historyLimit: config.historyLimit ?? 1000 }, replayed.complete);
      for (const batch of replayed.batches) store.#hub.publish(batch.revision, batch.events);
    } catch (err) {
      store.#lock.release();
      throw err;
    }
    return store;
  }

  get dir(): string {
    return this.#dir;
  }

  revision(): number {
    return this.#revision;
  }

  get(key: ResourceKey): Resource | undefined {
    return this.#resources.get(resourceKeyString(key));
  }

  list(options: ListOptions = {}): Resource[] {
    return listResources(this.#resources.values(), options);
  }

  watch(
    listener: (events: StoreEvent[]) => void,
    options?: ListOptions & { fromRevision?: number },
  ): () => void {
    return this.#hub.watch(listener, options);
  }

  commit(ops: StoreOp[]): Promise<{ revision: number; results: StoreEvent[] }> {
    return this.#serially(() => this.#commitNow(ops));
  }

  /** Writes a snapshot of everything and starts an empty log (also done automatically). */
  compact(): Promise<void> {
    return this.#serially(() => this.#compactNow());
  }

  /** Lets commits already queued finish, then closes the files and releases the lock. */
  close(): Promise<void> {
    this.#closing ??= this.#serially(async () => {
      this.#state = 'closed';
      this.#hub.clear();
      await this.#wal.close();
      this.#lock.release();
    });
    return this.#closing;
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #commitNow(ops: StoreOp[]): Promise<{ revision: number; results: StoreEvent[] }> {
    if (this.#state === 'closed') throw new Error('the store is closed');
    if (this.#failure) throw new Error(`the store stopped accepting writes: ${this.#failure.message}`);
    if (ops.length === 0) return { revision: this.#revision, results: [] };

    const revision = this.#revision + 1;
    const now = new Date();
    // Changes of this batch, applied over the current state: null marks a delete.
    const overlay = new Map<string, Resource | null>();
    const current = (key: string): Resource | undefined => {
      const staged = overlay.get(key);
      return staged === null ? undefined : (staged ?? this.#resources.get(key));
    };
    const results: StoreEvent[] = [];
    const record: LogRecord = { revision, ops: [] };
    const missing: string[] = [];
    for (const op of ops) {
      if (op.type === 'put') {
        if (!isResource(op.resource))
          throw new TypeError('store put needs kind, metadata.name and namespace');
        const key = keyOfResource(op.resource);
        const stored = stampResource(op.resource, current(key), revision, now);
        overlay.set(key, stored);
        results.push({ type: 'put', resource: stored, revision });
        record.ops.push({ type: 'put', resource: stored });
      } else {
        const key = resourceKeyString(op.key);
        const last = current(key);
        if (last === undefined) {
          missing.push(key);
          continue;
        }
        overlay.set(key, null);
        results.push({ type: 'delete', resource: last, revision });
        record.ops.push({ type: 'delete', key: { ...op.key } });
      }
    }
    if (missing.length > 0) throw new NotFoundError(`not found, nothing changed: ${missing.join(', ')}`);

    await this.#append(encodeRecord(Buffer.from(JSON.stringify(record))));
    for (const [key, value] of overlay) {
      if (value === null) this.#resources.delete(key);
      else this.#resources.set(key, value);
    }
    this.#revision = revision;
    this.#hub.publish(revision, results);
    if (this.#walRecords >= this.#compactEveryCommits || this.#walBytes >= this.#compactAtBytes) {
      try {
        await this.#compactNow();
      } catch (err) {
        // The commit is durable in the log already; compaction is retried after the next one.
        this.#log.error({ err }, 'store compaction failed');
      }
    }
    return { revision, results };
  }

  /** Appends one record and fsyncs it; on failure cuts the log back to its last good length. */
  async #append(data: Buffer): Promise<void> {
    try {
      await writeFully(this.#wal, data);
      await this.#wal.datasync();
    } catch (err) {
      try {
        await this.#wal.truncate(this.#walBytes);
        await this.#wal.datasync();
      } catch (repairErr) {
        this.#failure = repairErr as Error;
        this.#log.fatal({ err: repairErr }, 'store log could not be repaired after a failed write');
      }
      throw err;
    }
    this.#walBytes += data.length;
    this.#walRecords++;
  }

  async #compactNow(): Promise<void> {
    if (this.#state === 'closed' || this.#failure) return;
    const snapshot: SnapshotRecord = {
      format: SNAPSHOT_FORMAT,
      revision: this.#revision,
      resources: this.list(),
    };
    await this.#writeAtomically(SNAPSHOT_FILE, encodeRecord(Buffer.from(JSON.stringify(snapshot))));
    // The snapshot covers every logged record now; replace the log with an empty one. Once the
    // rename happened the old handle points at an unlinked file, so a failure from here on must
    // stop writes (a restart reloads snapshot + whichever log is in place, both consistent).
    const walPath = join(this.#dir, WAL_FILE);
    try {
      await this.#writeAtomically(WAL_FILE, Buffer.alloc(0));
      const fresh = await open(walPath, 'a');
      const previous = this.#wal;
      this.#wal = fresh;
      this.#walBytes = 0;
      this.#walRecords = 0;
      await previous.close();
    } catch (err) {
      this.#failure = err as Error;
      this.#log.fatal({ err }, 'store log could not be replaced after a snapshot; restart the control plane');
      throw err;
    }
    this.#log.debug({ revision: this.#revision, file: walPath }, 'store compacted');
  }

  /** write-temp + fsync + rename + fsync(dir): the file is either the old one or the whole new one. */
  async #writeAtomically(name: string, data: Buffer): Promise<void> {
    const path = join(this.#dir, name);
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w', 0o644);
    try {
      await writeFully(handle, data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await fsyncDir(this.#dir);
  }

  /** Loads snapshot + log into memory; returns the replayed log batches for the watch history. */
  async #load(): Promise<{ complete: number; batches: { revision: number; events: StoreEvent[] }[] }> {
    for (const name of [WAL_FILE, SNAPSHOT_FILE]) await rm(join(this.#dir, `${name}.tmp`), { force: true });

    const snapshotPath = join(this.#dir, SNAPSHOT_FILE);
    const snapshotBytes = await readIfExists(snapshotPath);
    if (snapshotBytes !== undefined) {
      const snapshot = parsePayload(
        decodeSingleRecord(snapshotBytes, snapshotPath),
        snapshotPath,
        'snapshot',
      );
      if (
        snapshot.format !== SNAPSHOT_FORMAT ||
        !Number.isSafeInteger(snapshot.revision) ||
        !Array.isArray(snapshot.resources) ||
        !snapshot.resources.every(isResource)
      )
        throw new StoreCorruptError(`${snapshotPath}: not a ${SNAPSHOT_FORMAT} snapshot`);
      this.#revision = snapshot.revision as number;
      for (const resource of snapshot.resources as Resource[])
        this.#resources.set(keyOfResource(resource), deepFreeze(resource));
    }
    const complete = this.#revision;

    const walPath = join(this.#dir, WAL_FILE);
    const walBytes = await readIfExists(walPath);
    const batches: { revision: number; events: StoreEvent[] }[] = [];
    if (walBytes !== undefined) {
      const log = decodeLog(walBytes, walPath);
      log.payloads.forEach((payload, index) => {
        const batch = this.#replay(payload, walPath, index);
        if (batch) batches.push(batch);
      });
      this.#walRecords = log.payloads.length;
      this.#walBytes = log.validBytes;
      if (log.tail === 'torn') {
        this.#log.warn(
          { file: walPath, validBytes: log.validBytes, droppedBytes: walBytes.length - log.validBytes },
          'store log ends in a torn record (a write cut short by a crash); it was never acknowledged and is dropped',
        );
        await truncate(walPath, log.validBytes);
      }
    }
    this.#wal = await open(walPath, 'a');
    await this.#wal.sync();
    if (walBytes === undefined) await fsyncDir(this.#dir);
    return { complete, batches };
  }

  #replay(
    payload: Buffer,
    file: string,
    index: number,
  ): { revision: number; events: StoreEvent[] } | undefined {
    const what = `log record ${index}`;
    const record = parsePayload(payload, file, what);
    const revision = record.revision;
    if (!Number.isSafeInteger(revision) || !Array.isArray(record.ops))
      throw new StoreCorruptError(`${file}: ${what} has no revision or ops`);
    // Records up to the snapshot's revision are already in it (a crash hit during compaction).
    if ((revision as number) <= this.#revision) return undefined;
    if (revision !== this.#revision + 1)
      throw new StoreCorruptError(
        `${file}: ${what} has revision ${revision} but ${this.#revision + 1} was expected (records are missing)`,
      );
    const events: StoreEvent[] = [];
    for (const op of record.ops as unknown[]) {
      if (isObject(op) && op.type === 'put' && isResource(op.resource)) {
        const resource = deepFreeze(op.resource);
        this.#resources.set(keyOfResource(resource), resource);
        events.push({ type: 'put', resource, revision: revision as number });
      } else if (isObject(op) && op.type === 'delete' && isKey(op.key)) {
        const key = resourceKeyString(op.key);
        const last = this.#resources.get(key);
        if (last === undefined) throw new StoreCorruptError(`${file}: ${what} deletes missing ${key}`);
        this.#resources.delete(key);
        events.push({ type: 'delete', resource: last, revision: revision as number });
      } else {
        throw new StoreCorruptError(`${file}: ${what} holds an op that is neither a put nor a delete`);
      }
    }
    this.#revision = revision as number;
    return { revision: this.#revision, events };
  }
}
