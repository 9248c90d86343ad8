// Counters of the RBAC filter, named after Envoy's http.<prefix>.rbac.* statistics, kept per rules stat prefix.

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

const byPrefix = new Map<string, RbacStats>();

/** The process-wide counters for a stat prefix (shared by every RBAC filter using it, across config updates). */
export function rbacStats(prefix: string): RbacStats {
  let stats = byPrefix.get(prefix);
  if (stats === undefined) {
    stats = new RbacStats(prefix);
    byPrefix.set(prefix, stats);
  }
  return stats;
}

/** Every RBAC counter set, for /stats/prometheus. */
export function allRbacStats(): RbacStats[] {
  return [...byPrefix.values()];
}
