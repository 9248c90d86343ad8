// The workload registry remembered across restarts of a file-store control plane: `<store dir>/registry.json`.
//
// A restarted control plane must not push a snapshot without the endpoints it served before:
// its proxies are reconnecting and re-join within seconds. So the registry is written to a file on
// every change, and a new process loads it with every workload "leaving": each stays for one grace
// period, a re-join cancels its removal, and a workload that never comes back is dropped then.
import { writeFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workload } from '../../model/types.ts';
import { logger } from '../../observe/log.ts';
import { MemoryRegistry } from '../registry/memory.ts';
import type { WorkloadRegistry } from '../registry/registry.ts';

const FILE = 'registry.json';
const FORMAT = 'weft-registry/1';

interface RegistryFileBody {
  format: typeof FORMAT;
  workloads: Workload[];
}

function isWorkload(value: unknown): value is Workload {
  const w = value as Workload;
  return (
    typeof w === 'object' &&
    w !== null &&
    typeof w.uid === 'string' &&
    typeof w.address === 'string' &&
    typeof w.namespace === 'string' &&
    typeof w.labels === 'object'
  );
}

/** Reads the remembered workloads; a missing or unreadable file is an empty registry (logged). */
export async function readRegistryFile(dir: string): Promise<Workload[]> {
  const path = join(dir, FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const body = JSON.parse(text) as RegistryFileBody;
    if (body.format !== FORMAT || !Array.isArray(body.workloads) || !body.workloads.every(isWorkload))
      throw new Error(`not a ${FORMAT} file`);
    return body.workloads;
  } catch (err) {
    // Only a hint for the first seconds after a restart: proxies re-register anyway.
    logger({ component: 'registry' }).warn({ err, file: path }, 'ignoring an unreadable registry file');
    return [];
  }
}

function encode(workloads: readonly Workload[]): string {
  const body: RegistryFileBody = { format: FORMAT, workloads: [...workloads] };
  return `${JSON.stringify(body)}\n`;
}

/**
 * A MemoryRegistry written to `<dir>/registry.json` after every change (one write at a time, the
 * latest state wins) and restored from it on open, each restored workload in its grace period.
 */
export class FileBackedRegistry implements WorkloadRegistry {
  readonly #inner: MemoryRegistry;
  readonly #path: string;
  readonly #log = logger({ component: 'registry' });
  #writing: Promise<void> | undefined;
  #dirty = false;
  #closed = false;
  readonly #off: () => void;

  private constructor(dir: string, graceMs: number) {
    this.#inner = new MemoryRegistry({ graceMs });
    this.#path = join(dir, FILE);
    this.#off = this.#inner.onChange(() => this.#save());
  }

  /** Opens the registry of the store in `dir`, restoring the workloads the last process knew. */
  static async open(dir: string, graceMs: number): Promise<FileBackedRegistry> {
    const registry = new FileBackedRegistry(dir, graceMs);
    const restored = await readRegistryFile(dir);
    for (const workload of restored) {
      registry.#inner.join(workload);
      registry.#inner.leave(workload.uid);
    }
    if (restored.length > 0)
      registry.#log.info(
        { workloads: restored.length, graceMs },
        'restored the registry of the last run; workloads that do not reconnect within the grace period are dropped',
      );
    return registry;
  }

  join(workload: Workload): void {
    this.#inner.join(workload);
  }

  leave(uid: string): void {
    this.#inner.leave(uid);
  }

  list(): readonly Workload[] {
    return this.#inner.list();
  }

  onChange(listener: () => void): () => void {
    return this.#inner.onChange(listener);
  }

  /** Stops the timers and writes the last state synchronously (a clean stop loses nothing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#off();
    this.#inner.close();
    if (this.#dirty || this.#writing) writeFileSync(this.#path, encode(this.#inner.list()));
  }

  #save(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#writing) return;
    this.#writing = (async () => {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        const temp = `${this.#path}.tmp`;
        try {
          await writeFile(temp, encode(this.#inner.list()));
          // close() wrote the final state itself.
          if (this.#closed) break;
          await rename(temp, this.#path);
        } catch (err) {
          this.#log.error({ err, file: this.#path }, 'could not write the registry file');
        }
      }
      this.#writing = undefined;
    })();
  }
}
