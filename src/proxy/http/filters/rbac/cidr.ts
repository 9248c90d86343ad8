// envoy.config.core.v3.CidrRange matching for RBAC's source, remote and destination IP rules.
import net from 'node:net';
import { type Msg, str, unsupported, wrappedNum } from '../../../common/fields.ts';

/** A compiled CIDR range: tests one address (IPv4, IPv6, or IPv4-mapped IPv6 as Node reports it). */
export type CidrMatcher = (address: string | undefined) => boolean;

/** Compiles `{address_prefix, prefix_len}`; an unset prefix length is 0 (Envoy's default: every address of the family). */
export function compileCidr(range: Msg, where: string): CidrMatcher {
  const prefix = str(range.addressPrefix);
  const family = net.isIP(prefix);
  if (family === 0) unsupported(where, `address_prefix '${prefix}' (not an IP address)`);
  const bits = wrappedNum(range.prefixLen, 0);
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(bits) || bits < 0 || bits > max)
    unsupported(where, `prefix_len ${bits} for '${prefix}'`);
  const list = new net.BlockList();
  list.addSubnet(prefix, bits, family === 4 ? 'ipv4' : 'ipv6');
  return (address) => {
    if (address === undefined) return false;
    const kind = net.isIP(address);
    if (kind === 0) return false;
    return list.check(address, kind === 4 ? 'ipv4' : 'ipv6');
  };
}
