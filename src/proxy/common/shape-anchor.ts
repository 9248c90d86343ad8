// Keeps the last object of each kind of the request path alive, so that a full GC while the proxy is idle does not deoptimize that path.
//
// Optimized code holds the hidden classes (maps) it checked weakly, and a class's map dies with its
// last instance: the first full GC after the last client connection closed (the idle release's, or
// V8's memory reducer once the process is quiet) then deoptimized ~35 functions of a sidecar's
// request path ("embedded weak objects cleared"), re-optimized at a cost by the next burst.
// One kept instance keeps the maps (docs/design/tail-latency.md).

const anchors = new Map<string, object>();

/** Keeps `obj` alive as the instance of `kind` (replacing the one kept before): call it when one is done with. */
export function keepShape(kind: string, obj: object): void {
  anchors.set(kind, obj);
}

/** The instance kept for `kind`, if any. */
export function keptShape(kind: string): object | undefined {
  return anchors.get(kind);
}
