/**
 * One circuit breaker per host, shared by the whole process: when a host fails
 * `breakerFailures` times in a row (requests out at once that fail together counting once),
 * every source skips it for `breakerCooldownMillis`, then a
 * single probe request decides whether it is back. Thresholds travel with each call, so two
 * sources with different limits can share the host's failure count without a config clash.
 */

export interface BreakerLimits {
  breakerFailures: number;
  breakerCooldownMillis: number;
}

/** Why a request may not go out: the host is skipped until `retryAtMillis`. */
export interface BreakerRefusal {
  retryAtMillis: number;
  failures: number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  /** Failures in a row when the breaker last opened (for messages). */
  private failuresAtOpen = 0;
  private openUntil: number | undefined;
  private probing = false;
  /** Failures counted so far, in a row or not: a request notes it as it goes out (see `failure`). */
  private failuresCounted = 0;

  constructor(readonly host: string, private readonly now: () => number = Date.now) {}

  /**
   * Asks to send a request. Returns a refusal while open (or while the half-open probe is out);
   * otherwise `'probe'` for the single half-open request, or `'closed'`.
   */
  enter(): 'closed' | 'probe' | BreakerRefusal {
    if (this.openUntil === undefined) return 'closed';
    if (this.now() < this.openUntil || this.probing) return { retryAtMillis: Math.max(this.openUntil, this.now()), failures: this.failuresAtOpen };
    this.probing = true;
    return 'probe';
  }

  /** The host answered sanely (any status that is not the host's fault). */
  success(): void {
    this.consecutiveFailures = 0;
    this.openUntil = undefined;
    this.probing = false;
  }

  /** What a request notes as it goes out, to pass back to `failure`. */
  get seen(): number {
    return this.failuresCounted;
  }

  /**
   * The host failed (network error, timeout, 5xx, broken body). Returns true when this opened the
   * breaker. `seenAtSend` is `seen` as the request went out: a request that was already out when
   * another one's failure was counted failed in the same outage. Requests out together that fail
   * together (a source's pages sent ahead, several sources at once) count as one failure in a
   * row, as one request at a time would have seen it, so a blip that retries ride out does not
   * open the breaker because more requests happened to be out. Only counted failures end a
   * request's turn: were every failure to, requests that overlap one another (two sources each
   * retrying as soon as the last try failed) would never count and a dead host would never be skipped.
   */
  failure(limits: BreakerLimits, seenAtSend: number = this.failuresCounted): boolean {
    const counts = seenAtSend === this.failuresCounted;
    if (counts) {
      this.failuresCounted += 1;
      this.consecutiveFailures += 1;
    }
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (counts && this.openUntil === undefined && this.consecutiveFailures >= limits.breakerFailures)) {
      this.failuresAtOpen = this.consecutiveFailures;
      this.openUntil = this.now() + limits.breakerCooldownMillis;
      return true;
    }
    return false;
  }

  /** The request ended without telling anything about the host (aborted): free the probe slot. */
  neutral(): void {
    this.probing = false;
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openUntil === undefined) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half-open';
  }
}

const breakers = new Map<string, CircuitBreaker>();

/** The process-wide breaker of `host` (`hostname[:port]`). */
export function circuitBreakerFor(host: string): CircuitBreaker {
  let breaker = breakers.get(host);
  if (!breaker) {
    breaker = new CircuitBreaker(host);
    breakers.set(host, breaker);
  }
  return breaker;
}
