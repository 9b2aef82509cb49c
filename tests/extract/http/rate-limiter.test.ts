import { describe, expect, it } from 'vitest';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../../src/extract/http/paginators.js';
import { rateLimiterFor } from '../../../src/extract/http/rate-limiter.js';
import { FAST_LIMITS, makeRecords, pages, startFaultyServer } from '../../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

async function takeAll(lease: ReturnType<typeof rateLimiterFor>, n: number): Promise<number[]> {
  const started = performance.now();
  const at: number[] = [];
  await Promise.all(Array.from({ length: n }, () => lease.take().then(() => at.push(performance.now() - started))));
  return at.sort((a, b) => a - b);
}

describe('token bucket per host', () => {
  it('lets a burst through, then paces at the rate', async () => {
    const lease = rateLimiterFor('burst.test', { requestsPerSecond: 20, burst: 3 });
    const at = await takeAll(lease, 6);
    lease.release();
    expect(at.slice(0, 3).every((t) => t < 40)).toBe(true);
    expect(at[3]).toBeGreaterThanOrEqual(40); // 1/20 s after the burst
    expect(at[5]).toBeGreaterThanOrEqual(140);
    expect(at[5]).toBeLessThan(1000);
  });

  it('is shared by every lease on the same host, and runs at the slowest one', async () => {
    const fast = rateLimiterFor('shared.test', { requestsPerSecond: 1000, burst: 1 });
    const slow = rateLimiterFor('shared.test', { requestsPerSecond: 20, burst: 1 });
    const started = performance.now();
    await Promise.all([takeAll(fast, 4), takeAll(slow, 4)]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300); // 8 tokens at 20/s, burst 1
    slow.release();
    const quick = performance.now();
    await takeAll(fast, 10);
    expect(performance.now() - quick).toBeLessThan(250); // back to 1000/s once the slow lease is gone (20/s would take 450 ms)
    fast.release();
  });

  it('keeps hosts apart', async () => {
    const a = rateLimiterFor('a.test', { requestsPerSecond: 1, burst: 1 });
    const b = rateLimiterFor('b.test', { requestsPerSecond: 1, burst: 1 });
    const started = performance.now();
    await a.take();
    await b.take();
    expect(performance.now() - started).toBeLessThan(500); // not a second's wait
    a.release();
    b.release();
  });

  it('does not release a burst after a stalled event loop', async () => {
    const lease = rateLimiterFor('stall.test', { requestsPerSecond: 20, burst: 1 });
    await lease.take();
    const pending = Array.from({ length: 4 }, () => lease.take().then(() => performance.now()));
    const stallUntil = performance.now() + 300;
    while (performance.now() < stallUntil) {
      /* block the event loop past every waiter's due time */
    }
    const at = await Promise.all(pending);
    lease.release();
    for (let i = 1; i < at.length; i += 1) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(40);
  });

  it('aborts a wait and lets the next in line go', async () => {
    // A token each 500 ms: one token's wait and two are 500 ms apart, more than a loaded machine's
    // timers are late (at 10/s, a 100 ms wait came 281 ms after the abort under load: taken for two).
    const lease = rateLimiterFor('abort.test', { requestsPerSecond: 2, burst: 1 });
    await lease.take();
    const started = performance.now();
    const controller = new AbortController();
    const waiting = lease.take(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    await lease.take();
    expect(performance.now() - started).toBeLessThan(900); // one token's wait (500 ms), not two (1,000 ms)
    lease.release();
  });

  it('an abort ends a wait at once, also behind another lease waiting its turn', async () => {
    const other = rateLimiterFor('abort-line.test', { requestsPerSecond: 4, burst: 1 });
    const lease = rateLimiterFor('abort-line.test', { requestsPerSecond: 4, burst: 1 });
    await other.take();
    const ahead = other.take(); // the next token, in 250 ms
    const controller = new AbortController();
    const waiting = lease.take(controller.signal);
    const started = performance.now();
    controller.abort(new Error('closed'));
    await expect(waiting).rejects.toThrow('closed');
    expect(performance.now() - started).toBeLessThan(100);
    await ahead;
    // The aborted wait took no token: the next one comes a token's wait after the one ahead.
    const before = performance.now();
    await other.take();
    expect(performance.now() - before).toBeGreaterThan(150);
    other.release();
    lease.release();
  });

  it('rejects a bad rate naming it', () => {
    expect(() => rateLimiterFor('x.test', { requestsPerSecond: 0, burst: 1 })).toThrow(/requestsPerSecond/);
    expect(() => rateLimiterFor('x.test', { requestsPerSecond: 1, burst: 0 })).toThrow(/burst/);
  });
});

describe('rate limit shared by two sources of one process on one host', () => {
  it('paces the two sources together at the host rate', async () => {
    const records = makeRecords(10);
    const server = await startFaultyServer({ '/a': pages.pageNumber(records, 1), '/b': pages.pageNumber(records, 1) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const limits = { ...FAST_LIMITS, requestsPerSecond: 20, burst: 1 };
    const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });
    const make = (dataset: string) =>
      httpSource({ source: 'rl', dataset, url: `${server.url}/${dataset}`, paginate: pageNumberPaginator(), items: 'data', schema, limits });
    const started = performance.now();
    const result = await lake.extract([make('a'), make('b')]);
    const elapsed = performance.now() - started;
    expect(result.status).toBe('success');
    expect(result.sources.map((s) => s.rows)).toEqual([10, 10]);
    // 11 requests each (10 pages + the empty one) = 22 at 20/s with burst 1 ≥ 1.05 s; alone each would take ~0.5 s.
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    const at = server.requests.map((r) => r.at).sort((x, y) => x - y);
    expect(at).toHaveLength(22);
    for (let i = 0; i + 10 < at.length; i += 1) {
      expect(at[i + 10]! - at[i]!).toBeGreaterThanOrEqual(450); // never more than 20/s together
    }
    // Both sources ran during the same time span (they were paced together, not one after the other).
    const span = (p: string): number[] => server.requests.filter((r) => r.path === p).map((r) => r.at);
    expect(Math.min(...span('/b'))).toBeLessThan(Math.max(...span('/a')));
    expect(Math.min(...span('/a'))).toBeLessThan(Math.max(...span('/b')));
  });
});
