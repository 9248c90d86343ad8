// `GET /api/v1/watch`: streams store changes as NDJSON (one WatchEvent per line) until the client leaves.
import type { ServerResponse } from 'node:http';
import { BadRequestError } from '../../errors.ts';
import type { Store, StoreEvent } from '../store/store.ts';
import { canonicalKind } from './kinds.ts';
import { queryParam } from './resources.ts';
import type { WatchEvent } from './types.ts';

/** A client that lets this much output pile up unread is cut off rather than buffered forever. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** The open watch streams of one API server. */
export class WatchStreams {
  readonly #store: Store;
  readonly #open = new Set<ServerResponse>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Starts a stream; bad parameters or a compacted `fromRevision` throw before anything is sent. */
  open(params: URLSearchParams, res: ServerResponse): void {
    for (const name of params.keys())
      if (name !== 'kind' && name !== 'namespace' && name !== 'fromRevision')
        throw new BadRequestError(`unknown query parameter ${name}: use kind, namespace and fromRevision`);
    const kindParam = queryParam(params, 'kind');
    const kind = kindParam === undefined ? undefined : canonicalKind(kindParam);
    const namespace = queryParam(params, 'namespace');
    const from = queryParam(params, 'fromRevision');
    if (from !== undefined && !/^\d{1,15}$/.test(from))
      throw new BadRequestError(`fromRevision must be a non-negative integer, got ${JSON.stringify(from)}`);

    // Events replayed synchronously by watch() are buffered until the headers are out.
    const early: StoreEvent[][] = [];
    let write: (events: StoreEvent[]) => void = (events) => {
      early.push(events);
    };
    const stop = this.#store.watch((events) => write(events), {
      kind,
      namespace,
      fromRevision: from === undefined ? undefined : Number(from),
    });
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      // A stream ends only at shutdown or when the client leaves; never reuse its connection.
      connection: 'close',
      'x-weft-revision': String(this.#store.revision()),
    });
    res.flushHeaders();
    this.#open.add(res);
    const finish = () => {
      stop();
      this.#open.delete(res);
    };
    res.on('close', finish);
    write = (events) => {
      if (res.writableEnded || res.destroyed) return;
      const lines = events
        .map((e) =>
          JSON.stringify({ type: e.type, revision: e.revision, resource: e.resource } satisfies WatchEvent),
        )
        .join('\n');
      res.write(`${lines}\n`);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    };
    for (const events of early) write(events);
  }

  /** Ends every open stream (server shutdown); resolves once each has finished or closed. */
  async endAll(): Promise<void> {
    const ending = [...this.#open].map(
      (res) =>
        new Promise<void>((resolve) => {
          res.once('close', resolve);
          res.once('finish', resolve);
          res.end();
        }),
    );
    this.#open.clear();
    await Promise.all(ending);
  }
}
