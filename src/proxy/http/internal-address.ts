// Which downstream addresses an HCM with use_remote_address treats as internal (internal_address_config).
import { checkFields, list, type Msg, msg } from '../common/fields.ts';
import { type CidrMatcher, compileCidr } from './filters/rbac/cidr.ts';

/** Tells an internal client address (the connection's peer) from an external one. */
export type InternalAddress = (address: string) => boolean;

/** Envoy's default internal set: private (RFC 1918), loopback and unique-local IPv6 (RFC 4193) addresses. */
const PRIVATE: readonly CidrMatcher[] = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['127.0.0.0', 8],
  ['::1', 128],
  ['fc00::', 7],
].map(([addressPrefix, prefixLen]) =>
  compileCidr({ addressPrefix, prefixLen: { value: prefixLen } }, 'default'),
);

/** Reads the HCM's `internal_address_config` (`cidr_ranges`; `unix_sockets` is moot: weft listens on IP only). */
export function compileInternalAddress(c: Msg, where: string): InternalAddress {
  const config = msg(c.internalAddressConfig);
  let ranges = PRIVATE;
  if (config) {
    const w = `${where}.internal_address_config`;
    checkFields(config, w, ['cidrRanges', 'unixSockets']);
    const given = list(config.cidrRanges);
    // Unset cidr_ranges keep Envoy's default set.
    if (given.length > 0) ranges = given.map((r, i) => compileCidr(r, `${w}.cidr_ranges[${i}]`));
  }
  return (address) => {
    for (let i = 0; i < ranges.length; i++) if (ranges[i](address)) return true;
    return false;
  };
}
