// Checks an HTTP/2 request's header block as nghttp2 and Envoy do at the edge (RFC 9113 8.2, 8.3): what fails is a malformed request.
import { HOP_BY_HOP_H2 } from './frames.ts';

/** Characters allowed in a field name (RFC 9110 tchar), lowercase only (RFC 9113 8.2.1). */
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

/** A request head's pseudo-headers and content-length, or why it is malformed. */
export class RequestCheck {
  method = '';
  scheme = '';
  authority = '';
  path = '';
  contentLength = -1;
  /** Why the block is malformed ('' when it is well formed). */
  error = '';

  /** Checks a request head (`trailers` false) or a trailer block (`trailers` true). */
  check(headers: readonly string[], trailers: boolean): boolean {
    this.method = this.scheme = this.authority = this.path = this.error = '';
    this.contentLength = -1;
    let regular = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (name.charCodeAt(0) === 58) {
        if (regular || trailers) return this.fail('pseudo-header after a regular field, or in trailers');
        if (!this.pseudo(name, value)) return false;
        continue;
      }
      regular = true;
      if (!validName(name)) return this.fail(`invalid header name ${JSON.stringify(name)}`);
      if (!validValue(value)) return this.fail(`invalid value of ${name}`);
      if (HOP_BY_HOP_H2.has(name)) return this.fail(`connection-specific header ${name}`);
      if (name === 'te' && value !== 'trailers') return this.fail('te other than trailers');
      if (name === 'content-length' && !this.length(value)) return false;
    }
    if (trailers) return true;
    if (this.method === '') return this.fail('no :method');
    if (this.method === 'CONNECT') {
      if (this.authority === '' || this.scheme !== '' || this.path !== '')
        return this.fail('malformed CONNECT');
      return true;
    }
    if (this.scheme === '' || this.path === '') return this.fail('missing :scheme or :path');
    if (this.path.charCodeAt(0) !== 47 && !(this.path === '*' && this.method === 'OPTIONS'))
      return this.fail('invalid :path');
    return true;
  }

  private pseudo(name: string, value: string): boolean {
    switch (name) {
      case ':method':
        if (this.method !== '' || value === '') return this.fail('duplicate or empty :method');
        this.method = value;
        return true;
      case ':scheme':
        if (this.scheme !== '' || value === '') return this.fail('duplicate or empty :scheme');
        this.scheme = value;
        return true;
      case ':authority':
        if (this.authority !== '') return this.fail('duplicate :authority');
        this.authority = value;
        return true;
      case ':path':
        if (this.path !== '' || value === '') return this.fail('duplicate or empty :path');
        this.path = value;
        return true;
      default:
        return this.fail(`unknown pseudo-header ${name}`);
    }
  }

  private length(value: string): boolean {
    if (!/^\d{1,15}$/.test(value)) return this.fail('invalid content-length');
    const n = Number(value);
    if (this.contentLength >= 0 && this.contentLength !== n) return this.fail('conflicting content-length');
    this.contentLength = n;
    return true;
  }

  private fail(why: string): boolean {
    this.error = why;
    return false;
  }
}

export function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** No control character but tab, no whitespace at either end (RFC 9113 8.2.1). */
export function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 32 || first === 9 || last === 32 || last === 9) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
}
