// The stop_accepting_requests overload action as a stream hook: while on, a new request gets 503 with flag OL.
import type { HttpStats } from '../http/http-stats.ts';
import type { ActiveStream, StreamHooks } from '../http/stream/hooks.ts';
import type { OverloadManager } from './overload-manager.ts';

/** Envoy's body for a request refused under overload. */
export const OVERLOAD_BODY = 'envoy overloaded';

/** Refuses new requests while the overload manager sheds load (downstream_rq_overload_close). */
export function overloadHooks(overload: OverloadManager, stats: HttpStats): StreamHooks {
  return {
    requestHeaders(stream: ActiveStream): void {
      if (!overload.stopAcceptingRequests || !stream.active || stream.responseStarted) return;
      stats.rqOverloadClose++;
      stream.sendLocalReply(503, OVERLOAD_BODY, 'OL');
    },
  };
}
