// envoy.filters.http.rbac: allows or denies each request by Envoy RBAC rules (enforced, LOG, and shadow), 403 on deny.
import { checkFields, type Msg, msg, str } from '../../../common/fields.ts';
import type {
  DownstreamConnection,
  FilterStatus,
  FilterStream,
  HttpFilter,
  HttpFilterConfig,
  HttpFilterFactory,
} from '../filter.ts';
import { compileRbacEngine, type RbacEngine } from './rbac-engine.ts';
import { RbacInput } from './rbac-input.ts';
import { type RbacStats, rbacStats } from './rbac-stats.ts';

export const RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';

/** Dynamic metadata namespaces the filter writes (Envoy's names). */
export const RBAC_METADATA = 'envoy.filters.http.rbac';
export const COMMON_METADATA = 'envoy.common';

/** Body of the 403 a denied request gets, as Envoy sends it. */
export const RBAC_DENIED_BODY = 'RBAC: access denied';

/** The parsed RBAC filter config, shared by every stream of a listener. */
export interface RbacFilterConfig {
  /** Enforced rules; absent: the filter enforces nothing (Envoy semantics). */
  rules?: RbacEngine;
  /** Evaluated and counted, never enforced (Istio's dry-run policies). */
  shadowRules?: RbacEngine;
  /** Prefix of the enforced counters and metadata keys (`rules_stat_prefix`). */
  rulesStatPrefix: string;
  /** Prefix of the shadow counters and metadata keys (`shadow_rules_stat_prefix`). */
  shadowRulesStatPrefix: string;
}

function setMetadata(stream: FilterStream, namespace: string, key: string, value: unknown): void {
  const metadata = stream.streamInfo?.dynamicMetadata;
  if (metadata === undefined) return;
  let entry = metadata.get(namespace);
  if (entry === undefined) {
    entry = {};
    metadata.set(namespace, entry);
  }
  entry[key] = value;
}

/** The connection as RBAC sees it when the connection manager gives none: the peer address only. */
function fallbackConnection(stream: FilterStream): DownstreamConnection {
  return { sourceIp: stream.head.remoteAddress, destinationPort: 0 };
}

class RbacFilter implements HttpFilter {
  private readonly config: RbacFilterConfig;
  private readonly stats: RbacStats;
  private readonly shadowStats: RbacStats;

  constructor(config: RbacFilterConfig, stats: RbacStats, shadowStats: RbacStats) {
    this.config = config;
    this.stats = stats;
    this.shadowStats = shadowStats;
  }

  decodeHeaders(stream: FilterStream): FilterStatus {
    const { rules, shadowRules, rulesStatPrefix, shadowRulesStatPrefix } = this.config;
    const info = stream.streamInfo;
    const input = new RbacInput(
      stream.head,
      info?.connection ?? fallbackConnection(stream),
      info?.dynamicMetadata,
    );
    if (shadowRules) {
      const shadow = shadowRules.decide(input);
      if (shadow.outcome === 'allowed') this.shadowStats.shadowAllowed++;
      else this.shadowStats.shadowDenied++;
      if (shadow.policy !== undefined)
        setMetadata(
          stream,
          RBAC_METADATA,
          `${shadowRulesStatPrefix}shadow_effective_policy_id`,
          shadow.policy,
        );
      setMetadata(stream, RBAC_METADATA, `${shadowRulesStatPrefix}shadow_engine_result`, shadow.outcome);
    }
    if (!rules) return 'Continue';
    const decision = rules.decide(input);
    if (decision.policy !== undefined)
      setMetadata(stream, RBAC_METADATA, `${rulesStatPrefix}enforced_effective_policy_id`, decision.policy);
    if (rules.action === 'LOG') {
      const hint = decision.policy !== undefined;
      if (hint) this.stats.logged++;
      else this.stats.notLogged++;
      setMetadata(stream, COMMON_METADATA, 'access_log_hint', hint);
      return 'Continue';
    }
    setMetadata(stream, RBAC_METADATA, `${rulesStatPrefix}enforced_engine_result`, decision.outcome);
    if (decision.outcome === 'allowed') {
      this.stats.allowed++;
      return 'Continue';
    }
    this.stats.denied++;
    stream.sendLocalReply(403, RBAC_DENIED_BODY, undefined);
    return 'StopIteration';
  }
}

/** Parses an RBAC filter config (`typed_config` of envoy.filters.http.rbac), camelCase decoded form. */
export function compileRbacFilter(config: Msg, where: string): RbacFilterConfig {
  checkFields(config, where, [
    'rules',
    'rulesStatPrefix',
    'shadowRules',
    'shadowRulesStatPrefix',
    'trackPerRuleStats',
  ]);
  const rules = msg(config.rules);
  const shadow = msg(config.shadowRules);
  return {
    rules: rules ? compileRbacEngine(rules, `${where}.rules`) : undefined,
    shadowRules: shadow ? compileRbacEngine(shadow, `${where}.shadow_rules`) : undefined,
    rulesStatPrefix: str(config.rulesStatPrefix),
    shadowRulesStatPrefix: str(config.shadowRulesStatPrefix),
  };
}

/** The registry entry: RBAC by its Envoy type URL. */
export const rbacFilterFactory: HttpFilterFactory = {
  typeUrl: RBAC_TYPE_URL,
  terminal: false,
  parse(name: string, config: Msg, where: string): HttpFilterConfig {
    const parsed = compileRbacFilter(config, where);
    const stats = rbacStats(parsed.rulesStatPrefix);
    const shadowStats = rbacStats(parsed.shadowRulesStatPrefix);
    // The filter keeps no per-stream state, so every stream shares one instance (no allocation per request).
    const filter = new RbacFilter(parsed, stats, shadowStats);
    return { name, createFilter: () => filter };
  },
};
