import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/config.js';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import { CircuitBreaker } from '../../../src/extract/http/circuit-breaker.js';
import { HttpClient } from '../../../src/extract/http/client.js';
import { CircuitOpenError } from '../../../src/extract/http/http-errors.js';
import { FAST_LIMITS, faults, sendJson, startFaultyServer, type Handler } from '../../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

const limits = { breakerFailures: 3, breakerCooldownMillis: 1000 };

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, lets one probe through after the cooldown', () => {
    let now = 0;
    const breaker = new CircuitBreaker('h.test', () => now);
    expect(breaker.enter()).toBe('closed');
    expect(breaker.failure(limits)).toBe(false);
    expect(breaker.failure(limits)).toBe(false);
    breaker.success(); // a success in between resets the count
    expect(breaker.failure(limits)).toBe(false);
    expect(breaker.failure(limits)).toBe(false);
    expect(breaker.failure(limits)).toBe(true);
    expect(breaker.state).toBe('open');
    expect(breaker.enter()).toEqual({ retryAtMillis: 1000, failures: 3 });
    now = 1000;
    expect(breaker.state).toBe('half-open');
    expect(breaker.enter()).toBe('probe');
    expect(breaker.enter()).toMatchObject({ failures: 3 }); // only one probe at a time
    expect(breaker.failure(limits)).toBe(true); // the probe failed: open again
    expect(breaker.enter()).toEqual({ retryAtMillis: 2000, failures: 4 });
    now = 2000;
    expect(breaker.enter()).toBe('probe');
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.enter()).toBe('closed');
  });

  it('counts requests that were out together and failed together as one failure in a row', () => {
    const breaker = new CircuitBreaker('h3.test', () => 0);
    // Three requests go out at once (pages sent ahead); all three fail.
    const out = [breaker.seen, breaker.seen, breaker.seen];
    expect(out.map((seen) => breaker.failure(limits, seen))).toEqual([false, false, false]);
    // Their retries go out one after another, each after the failure before it: 2nd and 3rd in a row.
    expect(breaker.failure(limits, breaker.seen)).toBe(false);
    expect(breaker.failure(limits, breaker.seen)).toBe(true);
    expect(breaker.enter()).toMatchObject({ failures: 3 });
  });

  it('requests that overlap one another, each sent after the one before failed, still open it', () => {
    const breaker = new CircuitBreaker('h4.test', () => 0);
    // Two requests always out (two sources on one host): each goes out as soon as the one before failed.
    const out = [breaker.seen, breaker.seen];
    const opened: boolean[] = [];
    for (let i = 0; i < 6; i += 1) {
      opened.push(breaker.failure(limits, out.shift()));
      out.push(breaker.seen);
    }
    // Each failure counts but the one that was out with a counted one.
    expect(opened).toEqual([false, false, false, false, true, false]);
  });

  it('frees the probe slot when the probe was aborted', () => {
    let now = 0;
    const breaker = new CircuitBreaker('h2.test', () => now);
    for (let i = 0; i < 3; i += 1) breaker.failure(limits);
    now = 5000;
    expect(breaker.enter()).toBe('probe');
    breaker.neutral();
    expect(breaker.enter()).toBe('probe');
  });
});

describe('circuit breaker in the client and in a run', () => {
  it('stops retrying a failing host and fails fast, non-retryable, with a clear message', async () => {
    let healthy = false;
    const flaky: Handler = (req, res, hit) => (healthy ? faults.json({ results: [{ id: 1 }] }) : faults.status(500))(req, res, hit);
    const server = await startFaultyServer({ '/items': flaky });
    registerCleanup(() => server.close());
    const lake = await tempLake(); // opened first: the cooldown must not run out while it opens
    const client = new HttpClient({ limits: limitsSchema.parse({ ...FAST_LIMITS, retries: 10, breakerFailures: 3, breakerCooldownMillis: 2000 }) });
    registerCleanup(() => client.close());

    const error = await client.request(`${server.url}/items`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryable).toBe(false);
    expect((error as Error).message).toMatch(new RegExp(`host ${server.host} is skipped for 2 s more after 3 consecutive failures \\(circuit breaker open\\)`));
    expect(server.hits('/items')).toBe(3); // not 11: the breaker cut the retries short
    expect(client.stats()[0]).toMatchObject({ breakerOpens: 1, requests: 3, statuses: { 500: 3 } });

    // Every other source on that host is skipped too, without a request.
    const source = httpSource({
      source: 'cb',
      dataset: 'items',
      url: `${server.url}/items`,
      items: 'results',
      schema: z.object({ id: z.number() }),
      limits: { ...FAST_LIMITS, breakerFailures: 3, breakerCooldownMillis: 2000 },
    });
    const skipped = await lake.extract([source]);
    expect(skipped.status).toBe('failed');
    expect(skipped.sources[0]!.error).toMatch(/circuit breaker open/);
    expect(skipped.sources[0]!.requests).toBe(0);
    expect(server.hits('/items')).toBe(3);

    // After the cooldown one probe goes out; the host is healthy again, so the run succeeds.
    await new Promise((r) => setTimeout(r, (error as CircuitOpenError).retryAtMillis - Date.now() + 50));
    healthy = true;
    const back = await lake.extract([source]);
    expect(back.status).toBe('success');
    expect(back.sources[0]).toMatchObject({ rows: 1, requests: 1 });
  });
  it('skips a dead host that answers slowly to two sources retrying as soon as a try failed: their tries overlap', async () => {
    const server = await startFaultyServer({
      '/dead': async (_req, res) => {
        await new Promise((r) => setTimeout(r, 100));
        sendJson(res, 503, { error: 'down' });
      },
    });
    registerCleanup(() => server.close());
    const clientLimits = limitsSchema.parse({ ...FAST_LIMITS, retries: 15, breakerFailures: 3, breakerCooldownMillis: 60_000, inFlight: 1, backoffBaseMillis: 1, backoffMaxMillis: 2 });
    const clients = [new HttpClient({ limits: clientLimits }), new HttpClient({ limits: clientLimits })];
    for (const c of clients) registerCleanup(() => c.close());
    // The second source starts halfway through the first one's request: from then on one is always out.
    const errors = await Promise.all(clients.map((c, i) => new Promise((r) => setTimeout(r, i * 50)).then(() => c.request(`${server.url}/dead`).catch((e: unknown) => e))));
    expect(errors.map((e) => e instanceof CircuitOpenError)).toEqual([true, true]);
    expect(server.hits('/dead')).toBeLessThanOrEqual(8); // not 32: both ran out their 16 tries
  });
});
