// `GET /api/v1/history/KIND/NAMESPACE/NAME`: the past writes of one resource (`weft history`, `weft rollback`).
import { NotFoundError } from '../../errors.ts';
import { sendJson } from '../api/http.ts';
import { canonicalKind } from '../api/kinds.ts';
import type { ApiRoute } from '../api/server.ts';
import type { HistoryEntry, HistoryStore, Store } from '../store/store.ts';

/** Body of the history route. */
export interface HistoryResponse {
  items: HistoryEntry[];
}

function hasHistory(store: Store): store is HistoryStore {
  return typeof (store as Partial<HistoryStore>).history === 'function';
}

export function historyRoute(store: Store): ApiRoute {
  return {
    path: '/api/v1/history/:kind/:namespace/:name',
    methods: {
      GET: async ({ params, res }) => {
        if (!hasHistory(store)) throw new NotFoundError('this control plane keeps no history');
        const key = { kind: canonicalKind(params[0]), namespace: params[1], name: params[2] };
        const items = await store.history(key);
        if (items.length === 0)
          throw new NotFoundError(`no history for ${key.kind} ${key.namespace}/${key.name}`);
        const body: HistoryResponse = { items };
        sendJson(res, 200, body);
      },
    },
  };
}
