// Whether an app listens on loopback only (reachable through its sidecar alone), read from Linux's /proc/net/tcp{,6}.
import { readFile } from 'node:fs/promises';

/** The addresses listening on one port, and whether any of them is reachable from other hosts. */
export interface Listening {
  /** Listening addresses as text (`127.0.0.1`, `0.0.0.0`, `::`, `::1`, ...). */
  addresses: string[];
  /** True when some listener is not on a loopback address. */
  exposed: boolean;
}

/** `0100007F` → 127.0.0.1 (procfs writes IPv4 as one little-endian word). */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

/** procfs's IPv6 (four little-endian words) as its 16 bytes. */
function ipv6Bytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let w = 0; w < 32; w += 8)
    for (const i of [6, 4, 2, 0]) bytes.push(parseInt(hex.slice(w + i, w + i + 2), 16));
  return bytes;
}

function describe(hex: string): { text: string; loopback: boolean } {
  if (hex.length === 8) {
    const text = ipv4(hex);
    return { text, loopback: text.startsWith('127.') };
  }
  const b = ipv6Bytes(hex);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 15) && b[15] === 1) return { text: '::1', loopback: true };
  if (zeros(0, 16)) return { text: '::', loopback: false };
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) {
    const text = `::ffff:${b.slice(12).join('.')}`;
    return { text, loopback: b[12] === 127 };
  }
  const text = Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16)).join(':');
  return { text, loopback: false };
}

/** The listening sockets on `port` (state 0A), or undefined when procfs cannot be read (not Linux). */
export async function listeningOn(
  port: number,
  files = ['/proc/net/tcp', '/proc/net/tcp6'],
): Promise<Listening | undefined> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const addresses: string[] = [];
  let exposed = false;
  let readable = false;
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    readable = true;
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== '0A' || !fields[1].endsWith(hexPort)) continue;
      const address = describe(fields[1].slice(0, fields[1].indexOf(':')));
      addresses.push(address.text);
      if (!address.loopback) exposed = true;
    }
  }
  return readable ? { addresses, exposed } : undefined;
}
