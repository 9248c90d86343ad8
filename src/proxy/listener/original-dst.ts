// A redirected connection's original destination, read from the kernel's conntrack table (Node has no SO_ORIGINAL_DST).
import { readFile } from '../../read-file.ts';

export interface OriginalDestination {
  address: string;
  port: number;
}

/** This network namespace's connection tracking table. */
export const CONNTRACK_TABLE = '/proc/net/nf_conntrack';

/**
 * The original destination of the TCP connection whose client is `remoteAddress:remotePort`:
 * the entry whose original tuple starts `src=<remoteAddress> ... sport=<remotePort>`. Undefined
 * when no entry matches (not redirected, or no conntrack). Costs one read of the table.
 */
export async function originalDestination(
  remoteAddress: string,
  remotePort: number,
  table = CONNTRACK_TABLE,
): Promise<OriginalDestination | undefined> {
  const text = await readFile(table, 'latin1').catch(() => '');
  return findOriginal(text, conntrackAddress(remoteAddress), remotePort);
}

/**
 * An address as the table prints it: IPv4 dotted (a v4-mapped socket address unwrapped), IPv6 in
 * full, eight groups of four hex digits (the kernel's `%pI6`).
 */
export function conntrackAddress(address: string): string {
  const v4 = address.replace(/^::ffff:(?=\d+\.)/i, '');
  if (!v4.includes(':')) return v4;
  // The URL parser gives the canonical compressed form (hex only, lowercase); then expand `::`.
  const canonical = new URL(`http://[${v4}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** A table's address as a socket takes it: full-form IPv6 compressed, IPv4 as is. */
function socketAddress(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** Scans the table's text for the TCP entry of that client, `address` as the table prints it (exported for tests and the bench). */
export function findOriginal(text: string, address: string, port: number): OriginalDestination | undefined {
  const needle = ` src=${address} `;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    const start = text.lastIndexOf('\n', at) + 1;
    // Only the line's first tuple (the original direction) of a TCP entry.
    if (text.indexOf(' src=', start) !== at || !text.slice(start, at).includes(' tcp ')) continue;
    const end = text.indexOf('\n', at);
    const m = /^ src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) /.exec(
      text.slice(at, end < 0 ? undefined : end),
    );
    if (m && Number(m[3]) === port) return { address: socketAddress(m[2]), port: Number(m[4]) };
  }
  return undefined;
}
