// Stream hooks that make a request safe before any filter sees it: the path normalised, XFCC set from what was verified.
import type { HcmConfig } from './connection-manager-config.ts';
import { NO_NORMALIZATION, normalizeRequestPath } from './path-normalization.ts';
import type { StreamHooks } from './stream/hooks.ts';
import type { HttpStream } from './stream/http-stream.ts';
import { xfccValue } from './xfcc.ts';

const XFCC = 'x-forwarded-client-cert';

/**
 * The HCM's path normalisation and XFCC handling as a `requestHeaders` hook: what RBAC, routing
 * and the upstream app all see is the normalised path (Envoy rewrites `:path`), and the XFCC
 * header carries only what this proxy verified.
 */
export function requestHardeningHooks(config: HcmConfig): StreamHooks {
  const paths = config.pathNormalization;
  const xfcc = config.xfcc;
  return {
    requestHeaders(stream: HttpStream): void {
      const head = stream.head;
      if (paths !== NO_NORMALIZATION && head.path.charCodeAt(0) === 47 /* / */) {
        const normalized = normalizeRequestPath(head.path, paths);
        if (normalized.kind === 'reject') {
          stream.sendLocalReply(400, 'Bad Request', 'DPE');
          return;
        }
        if (normalized.kind === 'redirect') {
          stream.sendLocalReply(307, '', undefined, ['location', normalized.path]);
          return;
        }
        head.path = normalized.path;
      }
      const received = head.get(XFCC);
      if (received === undefined && xfcc.mode === 'SANITIZE') return;
      const peer = xfcc.mode === 'SANITIZE' ? undefined : stream.streamInfo.connection.clientCert;
      const value = xfccValue(received, xfcc, peer);
      if (value === received) return;
      if (received !== undefined) head.remove(XFCC);
      if (value !== undefined) head.headers.push(XFCC, value);
    },
  };
}
