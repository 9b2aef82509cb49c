/**
 * Token buckets per host, shared by every source of the process that hits that host: politeness
 * is owed to the server, not to one source. Each user of a host holds a lease with its own
 * rate; the bucket runs at the slowest active lease, so no source can speed up another's host.
 * Waiters queue in order and each takes a token when it wakes, never a reservation made
 * earlier: after a stall the host still sees at most `burst` requests at once.
 */
import { abortable } from '../../abortable.js';

export interface RateLimit {
  /** Tokens added per second. */
  requestsPerSecond: number;
  /** Bucket size: how many requests may go out back to back. */
  burst: number;
}

export interface RateLimiterLease {
  /** Waits for a token; resolves with the milliseconds waited. Rejects when `signal` aborts. */
  take(signal?: AbortSignal): Promise<number>;
  /** Gives the lease back (the bucket forgets this source's rate). Idempotent. */
  release(): void;
}

class TokenBucket {
  private readonly leases = new Map<number, RateLimit>();
  private nextLease = 0;
  private rate = 1;
  private burst = 1;
  private tokens = 0;
  private refilledAt = performance.now();
  private started = false;
  /** Waiters take turns (FIFO); each takes a real token when it wakes, so a stalled event loop cannot release a burst. */
  private line: Promise<unknown> = Promise.resolve();
  /** Turns taken in the line and not yet over. */
  private waiting = 0;

  lease(limit: RateLimit): number {
    const id = this.nextLease++;
    this.leases.set(id, limit);
    this.configure();
    return id;
  }

  unlease(id: number): void {
    this.leases.delete(id);
    if (this.leases.size > 0) this.configure();
  }

  private configure(): void {
    this.refill();
    const limits = [...this.leases.values()];
    this.rate = Math.min(...limits.map((l) => l.requestsPerSecond));
    this.burst = Math.min(...limits.map((l) => l.burst));
    if (!this.started) {
      this.tokens = this.burst;
      this.started = true;
    }
    this.tokens = Math.min(this.tokens, this.burst);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
  }

  take(signal?: AbortSignal): Promise<number> {
    // Nobody waiting and a token in the bucket (a source under its rate): taken now, without a
    // turn in the line and its abort listener (three promises and a listener a request).
    if (this.waiting === 0) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return Promise.resolve(0);
      }
    }
    this.waiting += 1;
    const turn = this.line.then(() => this.takeNow(signal));
    const done = (): void => void (this.waiting -= 1);
    this.line = turn.then(done, done);
    // An abort ends the wait at once, not when its turn comes behind other sources' waits (a
    // closing source waits for its requests to settle); the turn then takes no token.
    return abortable(turn, signal);
  }

  private async takeNow(signal?: AbortSignal): Promise<number> {
    let waited = 0;
    for (;;) {
      signal?.throwIfAborted();
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return waited;
      }
      const millis = Math.max(1, ((1 - this.tokens) / this.rate) * 1000);
      await sleep(millis, signal);
      waited += millis;
    }
  }
}

const buckets = new Map<string, TokenBucket>();

/**
 * A lease on the process-wide bucket of `host` (`hostname[:port]`).
 * @example
 * const lease = rateLimiterFor('api.example.com', { requestsPerSecond: 5, burst: 5 });
 * try { await lease.take(signal); await fetchSomething(); } finally { lease.release(); }
 */
export function rateLimiterFor(host: string, limit: RateLimit): RateLimiterLease {
  if (!(limit.requestsPerSecond > 0)) throw new RangeError(`rateLimiterFor(${host}): "requestsPerSecond" must be > 0 (got ${String(limit.requestsPerSecond)})`);
  if (!(limit.burst >= 1)) throw new RangeError(`rateLimiterFor(${host}): "burst" must be ≥ 1 (got ${String(limit.burst)})`);
  let bucket = buckets.get(host);
  if (!bucket) {
    bucket = new TokenBucket();
    buckets.set(host, bucket);
  }
  const id = bucket.lease(limit);
  const owner = bucket;
  let released = false;
  return {
    take: (signal) => owner.take(signal),
    release() {
      if (released) return;
      released = true;
      // The bucket itself stays (a few numbers per host): a source starting right after
      // another must not get a fresh burst on top of the requests just sent.
      owner.unlease(id);
    },
  };
}

/** Resolves after `millis`, or rejects with the signal's reason when it aborts first. */
export function sleep(millis: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (millis <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, millis);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
