// One envoy.config.rbac.v3.RBAC rule set: its action and named policies, evaluated against a request.
import { checkFields, type Msg, msg, str, unsupported } from '../../../common/fields.ts';
import { compilePolicy, type RbacPredicate } from './matchers.ts';
import type { RbacInput } from './rbac-input.ts';

/** RBAC actions (envoy.config.rbac.v3.RBAC.Action). */
export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** What one engine decided: the effective policy is the first matching one by name, as in Envoy. */
export interface RbacDecision {
  /** ALLOW: a policy matched; DENY: none matched; LOG: always allowed. */
  outcome: 'allowed' | 'denied';
  /** The matching policy's name, if one matched. */
  policy: string | undefined;
}

export class RbacEngine {
  readonly action: RbacAction;
  private readonly policies: readonly { name: string; matches: RbacPredicate }[];

  constructor(action: RbacAction, policies: readonly { name: string; matches: RbacPredicate }[]) {
    this.action = action;
    this.policies = policies;
  }

  /** The first policy (in name order) that matches, or undefined. */
  matchingPolicy(input: RbacInput): string | undefined {
    for (const p of this.policies) if (p.matches(input)) return p.name;
    return undefined;
  }

  decide(input: RbacInput): RbacDecision {
    const policy = this.matchingPolicy(input);
    if (this.action === 'DENY') return { outcome: policy === undefined ? 'allowed' : 'denied', policy };
    if (this.action === 'LOG') return { outcome: 'allowed', policy };
    return { outcome: policy === undefined ? 'denied' : 'allowed', policy };
  }
}

/** Compiles `{action, policies}`; an absent action is ALLOW (the enum's zero). */
export function compileRbacEngine(rules: Msg, where: string): RbacEngine {
  checkFields(rules, where, ['action', 'policies']);
  const action = (str(rules.action) || 'ALLOW') as RbacAction;
  if (!['ALLOW', 'DENY', 'LOG'].includes(action)) unsupported(where, `action ${action}`);
  const policies = msg(rules.policies) ?? {};
  const names = Object.keys(policies).sort();
  return new RbacEngine(
    action,
    names.map((name) => ({
      name,
      matches: compilePolicy(msg(policies[name]) ?? {}, `${where}.policies[${name}]`),
    })),
  );
}
