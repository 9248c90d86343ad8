// Transparent capture's iptables rules (nat table): the app's outbound TCP to the sidecar's outbound port, inbound to its port to the inbound port.
import { execFile } from 'node:child_process';
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
}

/** Runs one `iptables` command (argv without the program); rejects with its stderr. */
export type IptablesRunner = (args: string[]) => Promise<void>;

export const runIptables: IptablesRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('iptables', ['-w', '5', ...args], { timeout: 15_000 }, (err, _out, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      reject(new Error(code === 'ENOENT' ? 'iptables is not installed' : stderr.trim() || err.message));
    });
  });

/** The commands that install the capture, in order, and those that remove it (in order). */
export function captureRules(s: CaptureSpec): { install: string[][]; remove: string[][] } {
  const out = `WEFT_OUT_${s.id}`;
  const inb = `WEFT_IN_${s.id}`;
  const nat = ['-t', 'nat'];
  const jumpOut = ['OUTPUT', '-p', 'tcp', '-m', 'owner', '--gid-owner', String(s.appGid), '-j', out];
  const jumpIn = ['PREROUTING', '-p', 'tcp', '--dport', String(s.appPort), '-j', inb];
  const redirect = ['-j', 'REDIRECT', '--to-ports', String(s.outboundPort)];
  const outRules: string[][] = [['-d', '127.0.0.0/8', '-j', 'RETURN']];
  for (const cidr of s.excludeCidrs) outRules.push(['-d', cidr, '-j', 'RETURN']);
  for (const port of s.excludePorts) outRules.push(['-p', 'tcp', '--dport', String(port), '-j', 'RETURN']);
  const cidrs = s.includeCidrs.length > 0 ? s.includeCidrs : ['0.0.0.0/0'];
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
    ],
    remove: [
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

async function removeAll(commands: string[][], run: IptablesRunner): Promise<void> {
  for (const c of commands) await run(c).catch(() => {});
}

/**
 * Installs the capture, all or nothing: a command that fails rolls back what was added and
 * rejects with WEFT_CAPTURE_UNAVAILABLE (iptables missing, not root / no CAP_NET_ADMIN, ...).
 */
export async function installCapture(spec: CaptureSpec, run: IptablesRunner = runIptables): Promise<Capture> {
  const rules = captureRules(spec);
  // Leftovers of a unit with the same id that died without its clean-up.
  await removeAll(rules.remove, run);
  for (const command of rules.install) {
    try {
      await run(command);
    } catch (err) {
      await removeAll(rules.remove, run);
      throw new CaptureUnavailableError(
        `cannot capture the app's traffic: iptables ${command.join(' ')} failed: ${(err as Error).message}; capture needs iptables and root (CAP_NET_ADMIN) in the app's network namespace; nothing was left installed`,
      );
    }
  }
  return { remove: () => removeAll(rules.remove, run) };
}
