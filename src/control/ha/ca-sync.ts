// CA material in etcd: every replica signs with the same root, token key and operator token.
//
// Before the CA opens, a replica takes the etcd lock `P/locks/ca` (one replica at a time) and
// either copies the material from `P/ca/*` into its data dir, or, when etcd has none yet,
// lets the CA create it locally (or reuses what a file-store run left) and uploads it.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Etcd3, EtcdLockFailedError } from 'etcd3';
import { logger } from '../../observe/log.ts';
import { TOKEN_KEY_FILE } from '../ca/bootstrap-token.ts';
import { CaService, type CaServiceConfig } from '../ca/ca-service.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from '../ca/files.ts';
import { ROOT_CERT_FILE, ROOT_KEY_FILE } from '../ca/generated-root.ts';
import { OPERATOR_TOKEN_FILE } from '../ca/operator-token.ts';

/** Files shared through etcd: name in etcd → path under the data dir and file mode. */
const SHARED: Record<string, { path: string; mode: number }> = {
  [ROOT_CERT_FILE]: { path: join('ca', ROOT_CERT_FILE), mode: PUBLIC_FILE_MODE },
  [ROOT_KEY_FILE]: { path: join('ca', ROOT_KEY_FILE), mode: PRIVATE_FILE_MODE },
  [TOKEN_KEY_FILE]: { path: join('ca', TOKEN_KEY_FILE), mode: PRIVATE_FILE_MODE },
  [OPERATOR_TOKEN_FILE]: { path: OPERATOR_TOKEN_FILE, mode: PRIVATE_FILE_MODE },
};

const LOCK_ATTEMPTS = 100;
const LOCK_RETRY_MS = 200;

async function withLock<T>(client: Etcd3, key: string, work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const lock = client.lock(key).ttl(30);
    try {
      await lock.acquire();
    } catch (err) {
      // Only a lock held by another replica is waited for; anything else (etcd unreachable) fails.
      if (!(err instanceof EtcdLockFailedError) || attempt >= LOCK_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      continue;
    }
    try {
      return await work();
    } finally {
      await lock.release().catch(() => undefined);
    }
  }
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Makes `config.dataDir` hold the cluster's CA material (creating it once for the whole cluster). */
export async function syncCaMaterial(client: Etcd3, prefix: string, config: CaServiceConfig): Promise<void> {
  const log = logger({ component: 'ca' });
  await withLock(client, `${prefix}/locks/ca`, async () => {
    const stored = await client.getAll().prefix(`${prefix}/ca/`).buffers();
    if (Object.keys(stored).length > 0) {
      await ensurePrivateDir(join(config.dataDir, 'ca'));
      for (const [key, value] of Object.entries(stored)) {
        const file = SHARED[key.slice(`${prefix}/ca/`.length)];
        if (!file) continue;
        const path = join(config.dataDir, file.path);
        await ensurePrivateDir(dirname(path));
        await writeFileAtomic(path, value, file.mode);
      }
      log.info({ files: Object.keys(stored).length }, 'took the CA material from etcd');
      return;
    }
    // First replica of the cluster: the CA creates what is missing; every file it has goes to etcd.
    await CaService.open(config);
    const puts = [];
    for (const [name, file] of Object.entries(SHARED)) {
      const data = await readIfPresent(join(config.dataDir, file.path));
      if (data) puts.push(client.put(`${prefix}/ca/${name}`).value(data));
    }
    const result = await client
      .if(`${prefix}/ca/${TOKEN_KEY_FILE}`, 'Version', '==', 0)
      .then(...puts)
      .commit();
    if (!result.succeeded)
      throw new Error('CA material appeared in etcd while this replica held the CA lock');
    log.info({ files: puts.length }, 'stored this replica’s CA material in etcd for the other replicas');
  });
}
