// A prefix watch on etcd that survives its cancellation: when etcd cancels it (its start revision was compacted) it reads the prefix again and watches on.
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from '../../observe/log.ts';

export interface ResyncWatchConfig {
  client: Etcd3;
  /** Key prefix watched. */
  prefix: string;
  /** What is watched, for logs ("registry"). */
  what: string;
  log: Logger;
  /**
   * Every key under the prefix at one etcd revision: on open, then again after each cancelled
   * watch (keys absent now were deleted meanwhile). `revision` is that etcd revision.
   */
  onSnapshot(kvs: IKeyValue[], revision: string): void;
  /** Changes after the last snapshot, in order. */
  onEvents(res: IWatchResponse): void;
}

const RETRY_MS = 1000;
/** Longest close() waits for etcd to confirm a watch's cancellation. */
const CANCEL_MS = 2000;

export class ResyncWatch {
  readonly #config: ResyncWatchConfig;
  #watcher: Watcher | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(config: ResyncWatchConfig) {
    this.#config = config;
  }

  /** Reads the prefix (onSnapshot) and resolves once the watch from the next revision is in place. */
  static async open(config: ResyncWatchConfig): Promise<ResyncWatch> {
    const watch = new ResyncWatch(config);
    const watcher = await watch.#load();
    try {
      if (watcher) await connected(watcher);
    } catch (err) {
      await watch.close();
      throw err;
    }
    return watch;
  }

  /** Stops the watch and any pending re-read; waits (bounded) for etcd to drop the watch. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher) await cancel(watcher);
  }

  /** Reads every key, then watches from the revision after that read. */
  async #load(): Promise<Watcher | undefined> {
    const { client, prefix, onSnapshot } = this.#config;
    const loaded = await client.getAll().prefix(prefix).exec();
    if (this.#closed) return undefined;
    onSnapshot(loaded.kvs, loaded.header.revision);
    // watcher() (not create()) so that close() can cancel it while it is still connecting.
    const watcher = client
      .watch()
      .prefix(prefix)
      .startRevision(String(Number(loaded.header.revision) + 1))
      .watcher();
    this.#watcher = watcher;
    watcher.on('data', (res: IWatchResponse) => {
      if (!this.#closed && this.#watcher === watcher) this.#config.onEvents(res);
    });
    watcher.on('error', (err: Error) => {
      if (this.#closed || this.#watcher !== watcher) return;
      this.#config.log.warn(
        { err: err.message },
        `${this.#config.what} watch cancelled by etcd; reading it again`,
      );
      this.#watcher = undefined;
      this.#reload();
    });
    return watcher;
  }

  #reload(): void {
    this.#load().catch((err: Error) => {
      if (this.#closed) return;
      this.#config.log.warn({ err: err.message }, `could not read the ${this.#config.what} again; retrying`);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (!this.#closed) this.#reload();
      }, RETRY_MS);
    });
  }
}

/** Resolves when etcd created the watch; rejects when it refused it. */
function connected(watcher: Watcher): Promise<void> {
  return new Promise((resolve, reject) => {
    watcher.once('connected', () => resolve());
    watcher.once('error', reject);
  });
}

async function cancel(watcher: Watcher): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CANCEL_MS);
  });
  await Promise.race([watcher.cancel().catch(() => undefined), bound]);
  clearTimeout(timer);
}
