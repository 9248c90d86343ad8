// Checks the clock difference between this host and the control plane, from the API's `Date` header.
import type { ApiAnswer } from './http.ts';
import type { CheckConfig, CheckResult } from './types.ts';

/**
 * Estimates server time minus local time (ms). `Date` has whole seconds, so the server's
 * clock read somewhere in [Date, Date + 1 s); the local clock is taken at the middle of the
 * round trip. The estimate is within ±(0.5 s + half the round trip) of the truth.
 */
export function estimateSkewMs(
  answer: Pick<ApiAnswer, 'headers' | 'sentAt' | 'receivedAt'>,
): number | undefined {
  const header = answer.headers.date;
  const date = Date.parse(Array.isArray(header) ? header[0] : (header ?? ''));
  if (Number.isNaN(date)) return undefined;
  return date + 500 - (answer.sentAt + answer.receivedAt) / 2;
}

export function checkClock(answer: ApiAnswer, config: CheckConfig): CheckResult {
  const limit = config.maxClockSkewMs / 1000;
  const name = `clock difference with the control plane is under ${limit}s`;
  const skew = estimateSkewMs(answer);
  if (skew === undefined)
    return {
      name,
      outcome: 'warn',
      detail: 'the API sent no Date header',
      hint: 'is --server a weft control plane?',
    };
  const seconds = (Math.abs(skew) / 1000).toFixed(1);
  const direction = skew > 0 ? 'ahead of' : 'behind';
  if (Math.abs(skew) > config.maxClockSkewMs)
    return {
      name,
      outcome: 'fail',
      detail: `the control plane's clock is ${seconds}s ${direction} this host's`,
      hint: 'certificates and tokens are checked against clocks: run NTP (chrony, systemd-timesyncd) on both hosts',
    };
  const margin = (0.5 + (answer.receivedAt - answer.sentAt) / 2000).toFixed(1);
  return { name, outcome: 'pass', detail: `${seconds}s ± ${margin}s` };
}
