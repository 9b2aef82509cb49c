/**
 * The delay before a retry, as a pure function so it can be tested without a clock.
 */

/** Longest wait a server may ask for with `Retry-After` before we stop taking it literally. */
export const MAX_RETRY_AFTER_MILLIS = 5 * 60_000;

export interface RetryDelayInput {
  /** 0 for the first retry, 1 for the second… */
  attempt: number;
  /** Backoff base: the first retry waits up to this long. Default 500. */
  baseMillis?: number;
  /** Cap of the exponential part. Default 30,000. */
  maxMillis?: number;
  /** The response's `Retry-After` header (delta-seconds or an HTTP-date), if any. */
  retryAfter?: string | number | null;
  /**
   * The response's `Date` header, if any: an HTTP-date `Retry-After` is read against it, the
   * server's own clock (RFC 9110 10.2.3), so a server whose clock is off asks for what it means.
   */
  date?: string | null;
  /** Current time in ms since the epoch, to resolve an HTTP-date when `date` is absent or unreadable. Default `Date.now()`. */
  now?: number;
  /** Uniform random in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Cap of a `Retry-After` wait. Default 5 minutes. */
  maxRetryAfterMillis?: number;
}

/**
 * Milliseconds to wait before retry number `attempt`: `Retry-After` when the server sent a
 * usable one (capped, never negative), else full jitter over `base × 2^attempt` capped at `max`.
 * Full jitter spreads retries of many clients instead of synchronising them.
 * @example
 * retryDelayMillis({ attempt: 2 });                    // uniform in [0, 2000)
 * retryDelayMillis({ attempt: 0, retryAfter: '3' });   // 3000
 * retryDelayMillis({ attempt: 0, retryAfter: 'Thu, 05 Mar 2026 12:10:01 GMT', date: 'Thu, 05 Mar 2026 12:10:00 GMT' }); // 1000
 */
export function retryDelayMillis(input: RetryDelayInput): number {
  const { attempt, baseMillis = 500, maxMillis = 30_000, now = Date.now(), random = Math.random, maxRetryAfterMillis = MAX_RETRY_AFTER_MILLIS } = input;
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`retryDelayMillis: "attempt" must be a non-negative integer (got ${String(attempt)})`);
  if (!(baseMillis >= 0)) throw new RangeError(`retryDelayMillis: "baseMillis" must be ≥ 0 (got ${String(baseMillis)})`);
  if (!(maxMillis >= 0)) throw new RangeError(`retryDelayMillis: "maxMillis" must be ≥ 0 (got ${String(maxMillis)})`);
  const asked = parseRetryAfterMillis(input.retryAfter, now, input.date);
  if (asked !== undefined) return Math.min(asked, maxRetryAfterMillis);
  // 2^attempt overflows to Infinity for silly attempts; min() keeps it at the cap.
  const ceiling = Math.min(maxMillis, baseMillis * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

const ASCTIME = /^[a-z]{3} [a-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$/i;

/**
 * A `Retry-After` value in milliseconds (≥ 0), or undefined when absent or unreadable.
 * Accepts delta-seconds (`120`, also `1.5` though the RFC says integer) and HTTP-dates, all three
 * formats (RFC 9110 5.6.7), as GMT. A date is read against `date`, the response's `Date` header,
 * when it is readable (the server's clock: one running minutes ahead of ours would otherwise ask
 * for minutes more than it means), else against `now`.
 */
export function parseRetryAfterMillis(value: string | number | null | undefined, now = Date.now(), date?: string | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? Math.max(0, Math.round(value * 1000)) : undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = parseHttpDate(text);
  if (at === undefined) return undefined;
  return Math.max(0, at - (parseHttpDate(date?.trim() ?? '') ?? now));
}

/** An HTTP-date in ms since the epoch, or undefined when unreadable. */
function parseHttpDate(text: string): number | undefined {
  // Only date-looking text: Date.parse would read a bare "-5" as a year.
  if (!/[a-z]/i.test(text)) return undefined;
  // asctime (`Sun Nov  6 08:49:37 1994`), the third HTTP-date format, writes no zone but means GMT:
  // Date.parse would read it as local time (hours off in São Paulo).
  const at = Date.parse(ASCTIME.test(text) ? `${text} GMT` : text);
  return Number.isNaN(at) ? undefined : at;
}
