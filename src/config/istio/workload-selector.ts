// Istio WorkloadSelector (`selector.matchLabels`) and the targetRef fields weft does not support, shared by the security kinds.
import type { Labels } from '../../model/types.ts';
import { labels } from '../names.ts';
import type { Fields, Reader } from '../read.ts';
import { object } from '../read.ts';

/** `{matchLabels: {...}}` → the labels; an empty selector is no selector (undefined), as in Istio. */
const workloadSelector: Reader<Labels | null> = object((f) => {
  const matchLabels = f.optional('matchLabels', labels) ?? {};
  return Object.keys(matchLabels).length === 0 ? null : matchLabels;
});

/** Why targetRef cannot be used: weft has no Gateway API attachment for security policies yet. */
const TARGET_REF_NOTE = 'attaching policies to Gateways or Services is not implemented; use selector';

/**
 * Reads `selector` of a security kind, and rejects `targetRef`/`targetRefs` (Istio's policy
 * attachment) as unsupported. Returns the selector's labels, or undefined for none.
 */
export function readSelector(f: Fields): Labels | undefined {
  for (const key of ['targetRef', 'targetRefs'])
    f.optional(key, (check, _value, path) => {
      check.error(path, `field ${key} is not supported by weft (yet): ${TARGET_REF_NOTE}`, 'unsupported');
      return undefined;
    });
  return f.optional('selector', workloadSelector) ?? undefined;
}
