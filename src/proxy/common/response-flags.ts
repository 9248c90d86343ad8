// Envoy's response flags: short codes that say why a request ended the way it did.

/** The flags weft sets (docs/response-flags.md). */
export type ResponseFlag =
  | 'NR' // no route configured
  | 'NC' // route's cluster not found
  | 'UH' // no healthy upstream host
  | 'UF' // upstream connection failure
  | 'URX' // upstream retry limit exceeded
  | 'UT' // upstream request timeout
  | 'UC' // upstream connection termination
  | 'UR' // upstream remote reset
  | 'UO' // upstream overflow (circuit breaker)
  | 'UPE' // upstream protocol error
  | 'DC' // downstream connection termination
  | 'DPE' // downstream protocol error
  | 'SI' // stream idle timeout
  | 'UMSDR' // upstream max stream duration reached
  | 'FI' // fault injected (abort)
  | 'RL' // rate limited locally (local_ratelimit filter)
  | 'OL' // overload manager refused the request
  | 'DI'; // delay injected

/** Header that carries the flags on local replies. */
export const RESPONSE_FLAGS_HEADER = 'x-weft-response-flags';
