// The request head as every codec hands it to filters and the router: method, authority, path, headers.
import { removeFlatFrom, truncate } from '../common/flat-list.ts';

/**
 * A request's head. Header names are lowercase (as Envoy normalises them); `headers` is a flat
 * list `[name, value, name, value, ...]` without `host`/pseudo-headers (they are fields).
 */
export class RequestHead {
  /** `GET`, `POST`, `CONNECT`, ... */
  method = '';
  /** `http` or `https` (from `:scheme`, or the listener for HTTP/1). */
  scheme = 'http';
  /** Host header or `:authority`, as received (may include a port). */
  authority = '';
  /** Origin-form path including the query string; for CONNECT, empty. */
  path = '';
  /** Flat `[name, value, ...]` list of the remaining headers, names lowercase. */
  headers: string[] = [];
  /** Address of the downstream peer (for source-IP hashing and x-forwarded-for). */
  remoteAddress = '';
  /** `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  protocol = 'HTTP/1.1';

  /** First value of a header (lowercase name), or undefined. */
  get(name: string): string | undefined {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }

  /** Every value of a header joined with `,` (Envoy's view for matching), or undefined. */
  getAll(name: string): string | undefined {
    const h = this.headers;
    let out: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === name) out = out === undefined ? h[i + 1] : `${out},${h[i + 1]}`;
    }
    return out;
  }

  /** Replaces (or adds) a header. */
  set(name: string, value: string): void {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === name) {
        h[i + 1] = value;
        this.removeFrom(name, i + 2);
        return;
      }
    }
    h.push(name, value);
  }

  /** Appends a header value. */
  add(name: string, value: string): void {
    this.headers.push(name, value);
  }

  /** Removes every value of a header. */
  remove(name: string): void {
    this.removeFrom(name, 0);
  }

  private removeFrom(name: string, from: number): void {
    removeFlatFrom(this.headers, name, from);
  }

  /** The path without its query string. */
  pathOnly(): string {
    const q = this.path.indexOf('?');
    return q < 0 ? this.path : this.path.slice(0, q);
  }

  /** Clears every field for reuse by the next request on the same connection. */
  reset(): void {
    this.method = '';
    this.scheme = 'http';
    this.authority = '';
    this.path = '';
    // Emptied in place: one array object fewer per request, and its backing store kept.
    truncate(this.headers, 0);
    this.protocol = 'HTTP/1.1';
  }
}
