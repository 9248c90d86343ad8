// Transparent capture's iptables and ip6tables rules (nat table): the app's outbound TCP to the sidecar's outbound port, inbound to its port to the inbound port.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CaptureUnavailableError } from '../errors.ts';

/** What to capture for one unit. The app runs with group `appGid`: only its sockets are redirected. */
export interface CaptureSpec {
  /** Short unique id (chain names `WEFT_OUT_<id>`, `WEFT_IN_<id>`; iptables allows 28 characters). */
  id: string;
  appGid: number;
  appPort: number;
  inboundPort: number;
  outboundPort: number;
  /** Only these destination ports are captured (Istio's includeOutboundPorts); empty: every port. */
  includePorts: number[];
  excludePorts: number[];
  /** Only these destination CIDRs are captured (includeOutboundIPRanges); empty: every address. */
  includeCidrs: string[];
  excludeCidrs: string[];
  /** Mesh DNS: the app's UDP and TCP port-53 queries go to this port of the sidecar; absent: not captured. */
  dnsPort?: number;
}

/** Runs one `iptables` (or `ip6tables`) command (argv without the program); rejects with its stderr. */
export type IptablesRunner = (args: string[]) => Promise<void>;

/** The runner of `program` (`iptables` or `ip6tables`) on this host. */
export function iptablesRunner(program: 'iptables' | 'ip6tables'): IptablesRunner {
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(program, ['-w', '5', ...args], { timeout: 15_000 }, (err, _out, stderr) => {
        if (!err) return resolve();
        const code = (err as NodeJS.ErrnoException).code;
        reject(new Error(code === 'ENOENT' ? `${program} is not installed` : stderr.trim() || err.message));
      });
    });
}

/** Where the rules of each address family go; `ipv6` absent: the namespace has no IPv6 to capture. */
export interface IptablesRunners {
  ipv4: IptablesRunner;
  ipv6?: IptablesRunner;
}

/** The kernel lists this namespace's IPv6 addresses here; no file: IPv6 is off (nothing to capture). */
const IF_INET6 = '/proc/net/if_inet6';

/** `iptables` and, when this namespace has IPv6, `ip6tables`. */
export function hostRunners(): IptablesRunners {
  return existsSync(IF_INET6)
    ? { ipv4: iptablesRunner('iptables'), ipv6: iptablesRunner('ip6tables') }
    : { ipv4: iptablesRunner('iptables') };
}

/** Per family: the loopback range (never captured), "every address", and which CIDRs belong to it. */
const FAMILY = {
  4: { loopback: '127.0.0.0/8', any: '0.0.0.0/0', owns: (cidr: string) => !cidr.includes(':') },
  6: { loopback: '::1/128', any: '::/0', owns: (cidr: string) => cidr.includes(':') },
} as const;

/**
 * The commands that install the capture for one address family (`iptables` or `ip6tables`), in
 * order, and those that remove it (in order). Only the family's own CIDRs apply to it; when
 * included CIDRs are given and none is of this family, nothing of it is redirected.
 */
export function captureRules(s: CaptureSpec, family: 4 | 6 = 4): { install: string[][]; remove: string[][] } {
  const f = FAMILY[family];
  const out = `WEFT_OUT_${s.id}`;
  const inb = `WEFT_IN_${s.id}`;
  const nat = ['-t', 'nat'];
  const jumpOut = ['OUTPUT', '-p', 'tcp', '-m', 'owner', '--gid-owner', String(s.appGid), '-j', out];
  const jumpIn = ['PREROUTING', '-p', 'tcp', '--dport', String(s.appPort), '-j', inb];
  const redirect = ['-j', 'REDIRECT', '--to-ports', String(s.outboundPort)];
  const outRules: string[][] = [];
  // DNS first: a resolver on loopback (127.0.0.53, ::1) is captured too, as Istio does; IPv6
  // queries go to [::1] on the same port, where the sidecar's DNS server has its twin.
  const dns = s.dnsPort !== undefined;
  const dnsTo = ['--dport', '53', '-j', 'REDIRECT', '--to-ports', String(s.dnsPort)];
  const owner = ['-m', 'owner', '--gid-owner', String(s.appGid), '-j', out];
  const jumpDns = ['OUTPUT', '-p', 'udp', '--dport', '53', ...owner];
  if (dns) outRules.push(['-p', 'udp', ...dnsTo], ['-p', 'tcp', ...dnsTo]);
  outRules.push(['-d', f.loopback, '-j', 'RETURN']);
  for (const cidr of s.excludeCidrs.filter(f.owns)) outRules.push(['-d', cidr, '-j', 'RETURN']);
  for (const port of s.excludePorts) outRules.push(['-p', 'tcp', '--dport', String(port), '-j', 'RETURN']);
  const cidrs = s.includeCidrs.length > 0 ? s.includeCidrs.filter(f.owns) : [f.any];
  for (const cidr of cidrs) {
    if (s.includePorts.length === 0) outRules.push(['-p', 'tcp', '-d', cidr, ...redirect]);
    for (const port of s.includePorts)
      outRules.push(['-p', 'tcp', '-d', cidr, '--dport', String(port), ...redirect]);
  }
  return {
    install: [
      [...nat, '-N', out],
      ...outRules.map((r) => [...nat, '-A', out, ...r]),
      [...nat, '-N', inb],
      [...nat, '-A', inb, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(s.inboundPort)],
      [...nat, '-A', ...jumpOut],
      [...nat, '-A', ...jumpIn],
      ...(dns ? [[...nat, '-A', ...jumpDns]] : []),
    ],
    remove: [
      ...(dns ? [[...nat, '-D', ...jumpDns]] : []),
      [...nat, '-D', ...jumpIn],
      [...nat, '-D', ...jumpOut],
      [...nat, '-F', inb],
      [...nat, '-X', inb],
      [...nat, '-F', out],
      [...nat, '-X', out],
    ],
  };
}

/** Installed rules; `remove()` takes every one of them out (errors of rules already gone are ignored). */
export interface Capture {
  remove(): Promise<void>;
}

/** Each family's commands with the runner that applies them. */
function familyRules(spec: CaptureSpec, runners: IptablesRunners) {
  const families = [{ program: 'iptables', run: runners.ipv4, rules: captureRules(spec, 4) }];
  if (runners.ipv6) families.push({ program: 'ip6tables', run: runners.ipv6, rules: captureRules(spec, 6) });
  return families;
}

async function removeAll(families: ReturnType<typeof familyRules>): Promise<void> {
  for (const f of families) for (const c of f.rules.remove) await f.run(c).catch(() => {});
}

/**
 * Installs the capture, all or nothing, for IPv4 and (when the namespace has IPv6) IPv6: a
 * command that fails rolls back what was added and rejects with WEFT_CAPTURE_UNAVAILABLE
 * (iptables or ip6tables missing, no nat table for the family, not root / no CAP_NET_ADMIN, ...).
 */
export async function installCapture(
  spec: CaptureSpec,
  runners: IptablesRunners = hostRunners(),
): Promise<Capture> {
  const families = familyRules(spec, runners);
  // Leftovers of a unit with the same id that died without its clean-up.
  await removeAll(families);
  for (const f of families) {
    for (const command of f.rules.install) {
      try {
        await f.run(command);
      } catch (err) {
        await removeAll(families);
        throw new CaptureUnavailableError(
          `cannot capture the app's traffic: ${f.program} ${command.join(' ')} failed: ${(err as Error).message}; capture needs iptables${runners.ipv6 ? ' and ip6tables (with its nat table: the app could otherwise reach IPv6 addresses around the sidecar)' : ''} and root (CAP_NET_ADMIN) in the app's network namespace; nothing was left installed`,
        );
      }
    }
  }
  return { remove: () => removeAll(families) };
}
