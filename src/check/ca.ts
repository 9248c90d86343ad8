// Checks the CA's trust bundle: present, parseable, made of CA certificates valid now and for the coming weeks.
import { X509Certificate } from 'node:crypto';
import type { ControlPlaneProbe } from './probe.ts';
import type { CheckConfig, CheckResult } from './types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export async function checkCertificateAuthority(
  probe: ControlPlaneProbe,
  config: CheckConfig,
  now: number = Date.now(),
): Promise<CheckResult[]> {
  const present = 'trust bundle is present';
  const answer = await probe.get('/api/v1/trust-bundle');
  const blocks = answer.status === 200 ? (answer.body.match(PEM_BLOCK) ?? []) : [];
  if (blocks.length === 0)
    return [
      {
        name: present,
        outcome: 'fail',
        detail:
          answer.status === 200
            ? '/api/v1/trust-bundle holds no PEM certificate'
            : `/api/v1/trust-bundle answered ${answer.status}`,
        hint: 'the control plane runs no certificate authority; see docs/security.md',
      },
    ];
  const roots: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      roots.push(new X509Certificate(block));
    } catch (err) {
      return [
        {
          name: present,
          outcome: 'fail',
          detail: `certificate ${i + 1} of the trust bundle does not parse: ${(err as Error).message}`,
          hint: 'replace the CA files (see docs/security.md) and restart the control plane',
        },
      ];
    }
  }
  const results: CheckResult[] = [
    { name: present, outcome: 'pass', detail: `${roots.length} root${roots.length === 1 ? '' : 's'}` },
  ];
  const days = Math.round(config.rootExpiryMarginMs / DAY_MS);
  const validity = `root certificate is valid and does not expire within ${days} days`;
  const problems: string[] = [];
  for (const root of roots) {
    const subject = root.subject.replace(/\n/g, ', ');
    const from = Date.parse(root.validFrom);
    const to = Date.parse(root.validTo);
    if (!root.ca) problems.push(`${subject} is not a CA certificate`);
    else if (from > now) problems.push(`${subject} is not valid before ${new Date(from).toISOString()}`);
    else if (to <= now) problems.push(`${subject} expired on ${new Date(to).toISOString()}`);
    else if (to - now < config.rootExpiryMarginMs)
      problems.push(
        `${subject} expires on ${new Date(to).toISOString()}, in ${Math.floor((to - now) / DAY_MS)} days`,
      );
  }
  if (problems.length > 0)
    results.push({
      name: validity,
      outcome: 'fail',
      detail: problems.join('; '),
      hint: 'rotate the root (docs/security.md): workloads stop trusting each other when it expires',
    });
  else {
    const soonest = Math.min(...roots.map((r) => Date.parse(r.validTo)));
    results.push({
      name: validity,
      outcome: 'pass',
      detail: `valid until ${new Date(soonest).toISOString()}`,
    });
  }
  return results;
}
