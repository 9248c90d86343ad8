// Counters of the RBAC filter, named after Envoy's http.<prefix>.rbac.* statistics, kept per rules stat prefix.
import { compileScope, ScopedStats } from '../../../common/compile-scope.ts';

export class RbacStats {
  /** `rules_stat_prefix` (or `shadow_rules_stat_prefix` for the shadow counters) of the filters counting here. */
  readonly prefix: string;
  /** rbac.allowed / rbac.denied: enforced decisions. */
  allowed = 0;
  denied = 0;
  /** rbac.shadow_allowed / rbac.shadow_denied: what the shadow rules would have decided. */
  shadowAllowed = 0;
  shadowDenied = 0;
  /** rbac.logged / rbac.not_logged: LOG action (Istio AUDIT) matches. */
  logged = 0;
  notLogged = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
  }
}

const byPrefix = new ScopedStats((prefix) => new RbacStats(prefix));

/**
 * The counters for a stat prefix in a proxy core (shared by every RBAC filter using it, across
 * config updates); `owner` defaults to the compilation in progress.
 */
export function rbacStats(prefix: string, owner: object = compileScope()): RbacStats {
  return byPrefix.get(prefix, owner);
}

/** Every RBAC counter set of a proxy core, for /stats/prometheus. */
export function allRbacStats(owner: object): RbacStats[] {
  return [...byPrefix.entries(owner).values()];
}
