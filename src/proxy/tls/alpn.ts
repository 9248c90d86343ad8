// ALPN protocol lists in a form a long-lived TLS socket or server keeps without pinning a 64 KiB buffer-pool slab.
//
// Node copies an ALPN list given as strings or a Buffer into its shared buffer pool
// (Buffer.poolSize: 64 KiB on Node 24) and the socket or server keeps that copy for its life, so one
// long-lived socket (an ADS stream, a pooled upstream connection, a listener's handshaker) holds a
// whole slab that nothing else may still use: 64 KiB per workload of a node agent. Given as a
// DataView (a documented form), Node copies the list into an ArrayBuffer of its own size instead.

/** The wire form (length-prefixed names) of each list asked for; lists come from config, so there are few. */
const lists = new Map<string, DataView>();

/** `names` as the DataView to pass as `ALPNProtocols`; undefined for an empty list (no ALPN). */
export function alpnProtocols(names: readonly string[]): DataView | undefined {
  if (names.length === 0) return undefined;
  const key = names.join(',');
  let view = lists.get(key);
  if (!view) {
    const encoded = names.map((n) => Buffer.from(n, 'latin1'));
    const bytes = new Uint8Array(encoded.reduce((sum, b) => sum + 1 + b.length, 0));
    let at = 0;
    for (const b of encoded) {
      bytes[at++] = b.length;
      bytes.set(b, at);
      at += b.length;
    }
    view = new DataView(bytes.buffer);
    lists.set(key, view);
  }
  return view;
}
