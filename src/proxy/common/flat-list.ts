// Flat `[name, value, ...]` header lists: emptying and removing in place without setting `length`.

/**
 * Shortens `list` to `length` items. Pops instead of assigning `list.length`: the assignment is a
 * call into V8's runtime (and drops the backing store, which the next request then allocates again).
 */
export function truncate(list: unknown[], length: number): void {
  while (list.length > length) list.pop();
}

/** Drops every value of `name` from a flat `[name, value, ...]` list. */
export function removeFlat(headers: string[], name: string): void {
  removeFlatFrom(headers, name, 0);
}

/** Drops every value of `name` at or after item `from` of a flat list. */
export function removeFlatFrom(headers: string[], name: string, from: number): void {
  let w = from;
  for (let r = from; r < headers.length; r += 2) {
    if (headers[r] === name) continue;
    headers[w] = headers[r];
    headers[w + 1] = headers[r + 1];
    w += 2;
  }
  truncate(headers, w);
}
