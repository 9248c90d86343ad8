// `--store`: the embedded file store (default) or etcd, as parts merged into a control plane's own.

import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import type { ApiRoute } from '../api/server.ts';
import type { ControlPlaneAddresses, ControlPlaneConfig, ControlPlaneParts } from '../control-plane.ts';
import { type EtcdTlsFlags, parseEtcdStore } from '../store/etcd-config.ts';
import { FileStore } from '../store/file-store.ts';
import { withFileHistory } from '../store/history-file.ts';
import type { Store } from '../store/store.ts';
import { clusterStatusRoute } from './cluster-status.ts';
import { EtcdHa } from './etcd-parts.ts';
import { historyRoute } from './history-route.ts';

/** The store a control plane runs on, and what it must do once serving and after stopping. */
export interface StoreChoice {
  kind: 'file' | 'etcd';
  /** Merges the store's parts (store, registry, `/api/v1/cluster`) into `parts`. */
  with(parts: ControlPlaneParts): ControlPlaneParts;
  /** Called once the control plane serves (etcd: announce the replica, join the election). */
  started(addresses: ControlPlaneAddresses): Promise<void>;
  /** Called after the control plane stopped. */
  close(): Promise<void>;
}

export interface StoreFlags extends EtcdTlsFlags {
  /** `file` or `etcd://...`. */
  store: string;
  /** Lease of replica announcements and leadership (ms). */
  leaseTtlMs: number;
}

/** Adds `routes` and the history route to the routes of `parts`. */
function addRoutes(parts: ControlPlaneParts, routes: ApiRoute[]): ControlPlaneParts {
  return {
    ...parts,
    apiRoutes: (context) => [...(parts.apiRoutes?.(context) ?? []), ...routes, historyRoute(context.store)],
  };
}

async function openFileStoreWithHistory(config: ControlPlaneConfig): Promise<Store> {
  const dir = join(config.dataDir, 'store');
  return withFileHistory(await FileStore.open({ dir }), dir);
}

/** Reads `--store` and the `--etcd-*` flags; a malformed value is a UsageError. */
export function chooseStore(flags: StoreFlags): StoreChoice {
  if (flags.store === 'file') {
    if (flags.etcdCacert || flags.etcdCert || flags.etcdKey)
      throw new UsageError('--etcd-cacert, --etcd-cert and --etcd-key need --store etcd://...');
    return {
      kind: 'file',
      with: (parts) =>
        addRoutes({ ...parts, openStore: openFileStoreWithHistory }, [
          clusterStatusRoute(async () => ({ store: 'file' })),
        ]),
      started: async () => {},
      close: async () => {},
    };
  }
  const etcd = parseEtcdStore(flags.store, flags);
  const leaseTtlSeconds = Math.ceil(flags.leaseTtlMs / 1000);
  if (leaseTtlSeconds < 1 || leaseTtlSeconds > 60)
    throw new UsageError('--etcd-lease-ttl must be between 1s and 60s');
  const ha = new EtcdHa({ etcd, leaseTtlSeconds });
  const own = ha.parts();
  return {
    kind: 'etcd',
    with: (parts) =>
      addRoutes({ ...parts, openStore: own.openStore, openRegistry: own.openRegistry }, own.routes()),
    started: (addresses) => ha.announce(addresses),
    close: () => ha.close(),
  };
}
