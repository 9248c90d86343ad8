// The workload registry interface: workloads that announce themselves (weft sidecars over xDS).
import type { Workload } from '../../model/types.ts';

/**
 * Live workloads reported by connected proxies. The ADS server calls `join` when a stream
 * identifies a sidecar node and `leave` when that stream ends; the registry keeps the workload
 * for a grace period after `leave` (so a reconnect does not churn endpoints) and then drops it.
 */
export interface WorkloadRegistry {
  join(workload: Workload): void;
  leave(uid: string): void;
  list(): readonly Workload[];
  /** Called after every change (join, final removal), never re-entrantly. */
  onChange(listener: () => void): () => void;
  close(): void;
}
