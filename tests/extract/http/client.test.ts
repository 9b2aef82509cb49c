import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { limitsSchema, type Limits } from '../../../src/config.js';
import { HttpClient } from '../../../src/extract/http/client.js';
import { CircuitOpenError, HttpBodyError, HttpError, HttpNetworkError, HttpStatusError, HttpTimeoutError } from '../../../src/extract/http/http-errors.js';
import { apiKeyAuth, bearerAuth } from '../../../src/extract/http/oauth.js';
import { FAST_LIMITS, faults, sendJson, startFaultyServer, type FaultyServer, type Handler } from '../../helpers/faulty-server.js';
import { registerCleanup } from '../../helpers/temp-lake.js';

const ok = { results: [{ id: 1 }] };

async function serve(routes: Record<string, Handler>): Promise<FaultyServer> {
  const server = await startFaultyServer(routes);
  registerCleanup(() => server.close());
  return server;
}

function client(limits: Partial<Limits> = {}, extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}): HttpClient {
  const c = new HttpClient({ limits: limitsSchema.parse({ ...FAST_LIMITS, ...limits }), ...extra });
  registerCleanup(() => c.close());
  return c;
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

describe('HttpClient retries', () => {
  it('waits for Retry-After on a 429, then succeeds', async () => {
    const server = await serve({ '/r': faults.sequence(faults.status(429, { 'retry-after': '1' }), faults.json(ok)) });
    const c = client();
    const started = performance.now();
    const response = await c.request(`${server.url}/r`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950); // not the 5 ms backoff
    expect(response.body).toEqual(ok);
    expect(response.attempts).toBe(2);
    expect(c.stats()).toEqual([expect.objectContaining({ host: server.host, requests: 2, retries: 1, statuses: { 429: 1, 200: 1 } })]);
  });

  it("reads a Retry-After date against the server's own Date header: a server whose clock runs 10 minutes ahead asking for 1 s gets 1 s", async () => {
    const ahead: Handler = (_req, res) => {
      const serverNow = Date.now() + 10 * 60_000;
      const date = new Date(serverNow).toUTCString();
      const retryAfter = new Date(Math.floor(serverNow / 1000) * 1000 + 1000).toUTCString();
      sendJson(res, 503, { error: 'busy' }, { date, 'retry-after': retryAfter });
    };
    const server = await serve({ '/ahead': faults.sequence(ahead, faults.json(ok)) });
    const c = client({ retries: 2 });
    const started = performance.now();
    const response = await c.request(`${server.url}/ahead`);
    const waited = performance.now() - started;
    expect(response.body).toEqual(ok);
    expect(response.attempts).toBe(2);
    expect(waited).toBeGreaterThanOrEqual(950); // the 1 s asked, not the 5 ms backoff
    expect(waited).toBeLessThan(5_000); // nor the 10 min the local clock makes of it
  });

  it('a Retry-After longer than a retry waits (5 min, seconds or a date) ends the request at once, naming the wait, instead of asking again too soon', async () => {
    const later = new Date(Date.now() + 2 * 3600_000).toUTCString();
    const server = await serve({
      '/quota': faults.sequence(faults.status(429, { 'retry-after': '3600' }), faults.json(ok)),
      '/maintenance': faults.sequence(faults.status(503, { 'retry-after': later }), faults.json(ok)),
    });
    const c = client({ retries: 3 });
    const quota = await failure(c.request(`${server.url}/quota`));
    expect(quota).toBeInstanceOf(HttpStatusError);
    expect(quota.retryable).toBe(false);
    expect(quota.message).toContain('HTTP 429');
    expect(quota.message).toContain('wait 3600 s (Retry-After)');
    const maintenance = await failure(c.request(`${server.url}/maintenance`));
    expect(maintenance.message).toMatch(/HTTP 503 .*wait 7\d{3} s \(Retry-After\)/);
    expect([server.hits('/quota'), server.hits('/maintenance')]).toEqual([1, 1]);
    expect(c.stats()).toEqual([expect.objectContaining({ requests: 2, retries: 0 })]);
  });

  it('retries a 500 once and a 503, 502, 408, 425 alike', async () => {
    const server = await serve({
      '/once': faults.sequence(faults.status(500), faults.json(ok)),
      '/many': faults.sequence(faults.status(503), faults.status(502), faults.status(408), faults.status(425), faults.json(ok)),
    });
    const c = client();
    expect((await c.request(`${server.url}/once`)).attempts).toBe(2);
    expect((await c.request(`${server.url}/many`)).attempts).toBe(5);
    expect(server.hits('/many')).toBe(5);
  });

  it('gives up after `retries` retries with the last error, naming URL, status and attempts', async () => {
    const server = await serve({ '/down': faults.status(503) });
    const error = await failure(client({ retries: 2 }).request(`${server.url}/down?page=3`));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.retryable).toBe(true);
    expect(error.attempts).toBe(3);
    expect(error.status).toBe(503);
    expect(error.message).toBe(`GET ${server.url}/down?page=3: HTTP 503 Service Unavailable (after 3 attempts)`);
    expect(server.hits('/down')).toBe(3);
  });

  it('does not retry a 404 or a 400', async () => {
    const server = await serve({ '/missing': faults.status(404), '/bad': faults.status(400) });
    const c = client();
    const error = await failure(c.request(`${server.url}/missing`));
    expect(error).toMatchObject({ retryable: false, attempts: 1, status: 404, code: 'HTTP_STATUS' });
    await failure(c.request(`${server.url}/bad`));
    expect(server.hits('/missing') + server.hits('/bad')).toBe(2);
  });

  it('retries a reset socket (socket hang up / ECONNRESET)', async () => {
    const server = await serve({ '/reset': faults.sequence(faults.resetSocket(), faults.json(ok)), '/always': faults.resetSocket() });
    const c = client({ retries: 1 });
    expect((await c.request(`${server.url}/reset`)).body).toEqual(ok);
    const error = await failure(c.request(`${server.url}/always`));
    expect(error).toBeInstanceOf(HttpNetworkError);
    expect(error).toMatchObject({ retryable: true, attempts: 2, code: 'HTTP_NETWORK' });
    expect(error.message).toMatch(/ECONNRESET|socket hang up/);
    expect(c.stats()[0]!.statuses.ERR).toBe(3); // one on /reset, two on /always
  });

  it('times out a stalled response and retries it', async () => {
    const server = await serve({ '/stall': faults.sequence(faults.stall(), faults.json(ok)), '/forever': faults.stall() });
    const c = client({ requestTimeoutMillis: 150, retries: 1 });
    expect((await c.request(`${server.url}/stall`)).body).toEqual(ok);
    const started = performance.now();
    const error = await failure(c.request(`${server.url}/forever`));
    expect(error).toBeInstanceOf(HttpTimeoutError);
    expect(error.message).toMatch(/no response within 150 ms \(after 2 attempts\)/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('retries truncated JSON and an HTML page served with 200', async () => {
    const server = await serve({
      '/cut': faults.sequence(faults.truncatedJson({ results: [{ id: 1, name: 'x'.repeat(100) }] }), faults.json(ok)),
      '/html': faults.sequence(faults.html200(), faults.json(ok)),
      '/html-always': faults.html200(),
    });
    const c = client({ retries: 2 });
    expect((await c.request(`${server.url}/cut`)).attempts).toBe(2);
    expect((await c.request(`${server.url}/html`)).attempts).toBe(2);
    const error = await failure(c.request(`${server.url}/html-always`));
    expect(error).toBeInstanceOf(HttpBodyError);
    expect(error.message).toMatch(/HTTP 200 body is not valid JSON .*content-type text\/html.* \(after 3 attempts\)/);
  });

  it('waits between retries by the backoff (base × 2^n, full jitter)', async () => {
    const server = await serve({ '/down': faults.status(500) });
    const started = performance.now();
    await failure(client({ retries: 3, backoffBaseMillis: 40, backoffMaxMillis: 40 }).request(`${server.url}/down`));
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(3 * 40 + 1500); // at most the three capped delays plus the requests (slack for a busy machine)
  });

  it('can be aborted while waiting to retry', async () => {
    const server = await serve({ '/slow': faults.status(503, { 'retry-after': '30' }) });
    const controller = new AbortController();
    const c = client({}, { signal: controller.signal });
    const pending = c.request(`${server.url}/slow`);
    setTimeout(() => controller.abort(new Error('stop now')), 100);
    await expect(pending).rejects.toThrow('stop now');
    // The retry it was waiting for was never sent: not counted.
    expect(c.stats()[0]).toMatchObject({ requests: 1, retries: 0 });
  });

  it('does not count a retry the breaker refused to send: retries = requests the server saw − 1', async () => {
    const server = await serve({ '/down': faults.status(503) });
    const counters = { requests: 0, retries: 0 };
    const c = client({ retries: 5, breakerFailures: 2 }, { counters });
    const error = await c.request(`${server.url}/down`).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/circuit breaker open\) \(after 2 attempts\)/);
    expect(server.hits('/down')).toBe(2);
    const [stats] = c.stats();
    expect(stats).toMatchObject({ requests: 2, retries: 1, statuses: { 503: 2 } });
    expect(counters).toEqual({ requests: 2, retries: 1 });
  });

  it('does not count a retry stopped after it was counted but before it was written out: retries = requests the server saw − 1', async () => {
    const server = await serve({ '/flaky': faults.sequence(faults.status(503), faults.json(ok)) });
    const controller = new AbortController();
    // The source stops at the very moment the retry is counted (the token taken, got not yet
    // called): as a source ending at a dead page stops the pages it sent ahead.
    let retries = 0;
    const counters = {
      requests: 0,
      get retries() {
        return retries;
      },
      set retries(n: number) {
        retries = n;
        if (n === 1) controller.abort(new Error('source stopped'));
      },
    };
    const c = client({}, { counters });
    await expect(c.request(`${server.url}/flaky`, { signal: controller.signal })).rejects.toThrow('source stopped');
    expect(server.hits('/flaky')).toBe(1);
    expect(c.stats()[0]).toMatchObject({ requests: 1, retries: 0, statuses: { 503: 1 } });
    expect({ requests: counters.requests, retries: counters.retries }).toEqual({ requests: 1, retries: 0 });
  });

  it('a request aborted while it waits to retry a failing host does not let the one behind it retry beside the one retrying', async () => {
    const hits = new Map<string, number>();
    const retriesOut: { id: string; start: number; end: number }[] = [];
    // b's and c's first failures, sent: the moment they start waiting their turns behind a.
    const firstFailureSent = new Map<string, Promise<void>>();
    const sent = new Map<string, () => void>();
    for (const id of ['b', 'c']) firstFailureSent.set(id, new Promise((resolve) => sent.set(id, resolve)));
    const server = await serve({
      '/x': async (_req, res, hit) => {
        const id = hit.url.searchParams.get('id')!;
        const n = (hits.get(id) ?? 0) + 1;
        hits.set(id, n);
        if (n === 1 && sent.has(id)) res.once('finish', sent.get(id)!);
        const start = performance.now();
        await new Promise((r) => setTimeout(r, id === 'a' ? 40 : 60));
        if (n > 1) retriesOut.push({ id, start, end: performance.now() });
        // a fails first (it retries first, the others wait for it) and fails four times; b and c once.
        if (id === 'a' ? n <= 4 : n === 1) return sendJson(res, 503, { error: 'down' });
        sendJson(res, 200, { ok: id });
      },
    });
    const c = client({ inFlight: 3, retries: 6, breakerFailures: 50, backoffBaseMillis: 20, backoffMaxMillis: 20 });
    const abortB = new AbortController();
    const a = c.request(`${server.url}/x?id=a`);
    const b = c.request(`${server.url}/x?id=b`, { signal: abortB.signal }).catch((e: unknown) => e);
    const later = c.request(`${server.url}/x?id=c`);
    // a is retrying, b waits for it, c for b. Awaited, not a 90 ms sleep: a worker descheduled that
    // long aborted b before its first request reached the server (hits: no b).
    await Promise.all(firstFailureSent.values());
    // Their 503s are in their sockets: a few turns of the loop and the client has read them.
    for (let i = 0; i < 5; i += 1) await new Promise((r) => setImmediate(r));
    abortB.abort(new Error('page no longer needed'));
    await Promise.all([a, b, later]);
    // c retries once a is done, not as soon as b left.
    const overlapping = retriesOut.filter((r) => retriesOut.some((o) => o.id !== r.id && o.start < r.end && r.start < o.end));
    expect(overlapping).toEqual([]);
    expect(hits).toEqual(new Map([['a', 5], ['b', 1], ['c', 2]]));
  });
});

const bytes = (buffer: Buffer, contentType: string): Handler => (_req, res) => {
  res.writeHead(200, { 'content-type': contentType, 'content-length': buffer.length });
  res.end(buffer);
};

describe('HttpClient JSON bodies', () => {
  it('reads a JSON body that starts with a UTF-8 byte order mark (as jsonSource does) instead of retrying it as broken', async () => {
    const text = JSON.stringify({ results: [{ id: 1, name: 'São Paulo' }] });
    const server = await serve({ '/bom': bytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), 'application/json; charset=utf-8') });
    const response = await client({ retries: 2 }).request<{ results: { name: string }[] }>(`${server.url}/bom`);
    expect(response.body.results[0]!.name).toBe('São Paulo');
    expect(server.hits('/bom')).toBe(1);
  });

  it('a UTF-8 byte order mark wins over a Content-Type charset that says otherwise (a server labelling every body ISO-8859-1)', async () => {
    const text = JSON.stringify({ results: [{ id: 1, name: 'Feijão' }] });
    const server = await serve({ '/mislabelled': bytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), 'application/json; charset=ISO-8859-1') });
    const response = await client({ retries: 2 }).request<{ results: { name: string }[] }>(`${server.url}/mislabelled`);
    expect(response.body.results[0]!.name).toBe('Feijão');
    expect(server.hits('/mislabelled')).toBe(1);
  });

  it('decodes a JSON body in the charset its Content-Type declares (ISO-8859-1), not as UTF-8', async () => {
    const text = JSON.stringify({ results: [{ id: 1, name: 'Feijão Preto Camil 1kg' }] });
    const server = await serve({ '/latin1': bytes(Buffer.from(text, 'latin1'), 'application/json; charset=ISO-8859-1') });
    const response = await client().request<{ results: { name: string }[] }>(`${server.url}/latin1`);
    expect(response.body.results[0]!.name).toBe('Feijão Preto Camil 1kg');
  });
});

describe('HttpClient connections, limits and identity', () => {
  it('close() ends the requests still waiting to retry: none goes out after it, and the host keeps no rate of the closed client', async () => {
    let closed = false;
    const afterClose: string[] = [];
    const server = await serve({
      '/x': async (_req, res, hit) => {
        if (closed) afterClose.push(hit.url.search);
        await new Promise((r) => setTimeout(r, 30));
        res.writeHead(503).end();
      },
      '/ok': faults.json(ok),
    });
    const slow = client({ inFlight: 2, retries: 3, breakerFailures: 50, backoffBaseMillis: 150, backoffMaxMillis: 150, requestsPerSecond: 2, burst: 2 });
    const out = [slow.request(`${server.url}/x?id=a`), slow.request(`${server.url}/x?id=b`)].map((p) => p.catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 60)); // both failed once: one waits for its retry, the other for that one
    slow.close();
    closed = true;
    expect((await Promise.all(out)).map((e) => (e as { code?: string }).code)).toEqual(['HTTP_CLOSED', 'HTTP_CLOSED']);
    expect(afterClose).toEqual([]);
    // The closed client's lease (2 requests/s) is gone: another client on the host runs at its own rate.
    const fast = client({ requestsPerSecond: 1000, burst: 1000 });
    const started = performance.now();
    for (let i = 0; i < 6; i += 1) await fast.request(`${server.url}/ok`);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const server = await serve({ '/k': faults.json(ok) });
    const c = client();
    for (let i = 0; i < 10; i += 1) await c.request(`${server.url}/k?i=${i}`);
    expect(server.hits('/k')).toBe(10);
    expect(server.connections).toBe(1);
  });

  it('keeps at most `inFlight` requests of a client open at once', async () => {
    let open = 0;
    let peak = 0;
    const server = await serve({
      '/slow': async (_req, res) => {
        open += 1;
        peak = Math.max(peak, open);
        await new Promise((r) => setTimeout(r, 40));
        open -= 1;
        faults.json(ok)(_req, res, { url: new URL('http://x'), body: '', count: 0 });
      },
    });
    const c = client({ inFlight: 2 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => c.request(`${server.url}/slow?i=${i}`)));
    expect(peak).toBe(2);
  });

  it('sends an honest User-Agent', async () => {
    const server = await serve({ '/ua': faults.json(ok) });
    await client().request(`${server.url}/ua`);
    expect(server.requests[0]!.headers['user-agent']).toBe('duckhouse/0.1.0 (+https://github.com/duckhouse)');
  });

  it('counts bytes, latency and statuses per host, and bumps the source counters', async () => {
    const server = await serve({ '/s': faults.sequence(faults.status(500), faults.json(ok)) });
    const counters = { requests: 0, retries: 0 };
    const c = client({}, { counters });
    await c.request(`${server.url}/s`);
    await c.request(`${server.url}/s`);
    const [stats] = c.stats();
    expect(stats).toMatchObject({ host: server.host, requests: 3, retries: 1, statuses: { 500: 1, 200: 2 }, breakerOpens: 0, throttledMs: 0 });
    expect(stats!.bytes).toBe(2 * JSON.stringify(ok).length + JSON.stringify({ error: 'Internal Server Error' }).length);
    expect(stats!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(counters).toEqual({ requests: 3, retries: 1 });
  });

  it('counts each request of a redirect, with its status, as the server saw them, and takes a rate-limit token for each', async () => {
    const server = await serve({
      '/old': (_req, res) => {
        res.writeHead(301, { location: '/new', 'content-length': 0 });
        res.end();
      },
      '/new': faults.json({ results: [] }),
    });
    // One token at a time, two a second: the hop waits for its own token.
    const c = client({ requestsPerSecond: 2, burst: 1 });
    const response = await c.request(`${server.url}/old`);
    expect(response.status).toBe(200);
    expect(server.requests.map((r) => r.path)).toEqual(['/old', '/new']);
    const [stats] = c.stats();
    expect(stats).toMatchObject({ requests: 2, statuses: { 301: 1, 200: 1 } });
    expect(stats!.throttledMs).toBeGreaterThanOrEqual(300);
  });
  it('a redirect hop to another host goes through that host\'s circuit breaker: refused while it is open, not sent', async () => {
    const cdn = await serve({ '/down': faults.status(503), '/file': faults.json({ ok: true }) });
    const api = await serve({
      '/r': (_req, res) => {
        res.writeHead(302, { location: `${cdn.url}/file`, 'content-length': 0 });
        res.end();
      },
    });
    const c = client({ retries: 0, breakerFailures: 1, breakerCooldownMillis: 60_000 });
    await expect(c.request(`${cdn.url}/down`)).rejects.toThrow(/503/);
    const error = await c.request(`${api.url}/r`).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).message).toContain(cdn.host);
    expect(cdn.requests.map((r) => r.path)).toEqual(['/down']);
  });

  it("the failures of the host a redirect leads to count on that host's breaker, not on the host that redirected", async () => {
    const cdn = await serve({ '/down': faults.status(503) });
    const api = await serve({
      '/r': (_req, res) => {
        res.writeHead(302, { location: `${cdn.url}/down`, 'content-length': 0 });
        res.end();
      },
      '/ok': faults.json({ ok: true }),
    });
    const c = client({ retries: 0, breakerFailures: 2, breakerCooldownMillis: 60_000 });
    await expect(c.request(`${api.url}/r`)).rejects.toThrow(/503/);
    await expect(c.request(`${api.url}/r`)).rejects.toThrow(/503/);
    // The API answered every time (with a redirect): it is not skipped. The CDN failed twice: it is.
    await expect(c.request(`${api.url}/ok`)).resolves.toMatchObject({ status: 200 });
    await expect(c.request(`${cdn.url}/down`)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(c.stats().find((s) => s.host === cdn.host)).toMatchObject({ breakerOpens: 1 });
  });

  it('never puts a secret in an error message', async () => {
    const server = await serve({ '/gone': faults.status(410), '/down': faults.status(500) });
    const apiKey = 'k3y-0f-the-kingd0m-123';
    const c = client({ retries: 0 }, { auth: apiKeyAuth('key', apiKey, 'query') });
    const error = await failure(c.request(`${server.url}/gone?access_token=tok-abcdef-123456&page=2`));
    expect(error.message).not.toContain('tok-abcdef-123456');
    expect(error.message).not.toContain(apiKey);
    expect(error.message).toContain('access_token=[REDACTED]');
    expect(error.url).not.toContain(apiKey);
    const other = await failure(c.request(`${server.url}/down`));
    expect(JSON.stringify({ message: other.message, cause: String(other.cause), url: other.url })).not.toContain(apiKey);
    // The key did reach the server.
    expect(server.requests.at(-1)!.query.get('key')).toBe(apiKey);
  });

  it('keeps the `:` after a URL whose API key in the query it redacted: "…&key=[REDACTED]: HTTP 410", not "…&key=[REDACTED] HTTP 410"', async () => {
    const server = await serve({ '/gone': faults.status(410) });
    const apiKey = 'k3y-colon-kept-0123';
    const c = client({ retries: 0 }, { auth: apiKeyAuth('key', apiKey, 'query') });
    const error = await failure(c.request(`${server.url}/gone?page=2`));
    expect(error.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/gone\?page=2&key=\[REDACTED\]: HTTP 410/);
    expect(server.requests.at(-1)!.query.get('key')).toBe(apiKey);
  });
});

describe('HttpClient compressed bodies', () => {
  const payload = { results: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i} ${'x'.repeat(i % 17)}` })) };
  const encoded = (encoding: string, body: Buffer): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': body.length });
    res.end(body);
  };

  it('reads Content-Encoding deflate sent raw (no zlib header, as some servers do) as well as zlib-wrapped, gzip and br, as browsers and curl do', async () => {
    const text = Buffer.from(JSON.stringify(payload));
    const raw = zlib.deflateRawSync(text);
    expect(raw[0]! & 0x08).not.toBe(0); // decompress-response's one-bit guess takes this one for zlib-wrapped
    const server = await serve({
      '/raw': encoded('deflate', raw),
      '/zlib': encoded('deflate', zlib.deflateSync(text)),
      '/gzip': encoded('gzip', zlib.gzipSync(text)),
      '/br': encoded('br', zlib.brotliCompressSync(text)),
    });
    const c = client({ retries: 0 });
    for (const route of ['/raw', '/zlib', '/gzip', '/br']) expect((await c.request(`${server.url}${route}`)).body, route).toEqual(payload);
    expect(server.requests[0]!.headers['accept-encoding']).toBe('gzip, deflate, br');
    expect(c.stats()).toEqual([expect.objectContaining({ requests: 4, statuses: { 200: 4 } })]);
  });

  it('http_stats bytes count the body as it came over the wire (compressed), the response its decoded size', async () => {
    const text = Buffer.from(JSON.stringify(payload));
    const gzipped = zlib.gzipSync(text);
    const server = await serve({ '/gzip': encoded('gzip', gzipped) });
    const c = client();
    const response = await c.request(`${server.url}/gzip`);
    expect(response.bytes).toBe(text.length);
    expect(c.stats()).toEqual([expect.objectContaining({ bytes: gzipped.length })]);
  });

  it('a corrupt compressed body is a broken read (retried), naming the encoding', async () => {
    const server = await serve({ '/bad': encoded('gzip', Buffer.from('not gzip at all')) });
    const c = client({ retries: 1 });
    const error = await failure(c.request(`${server.url}/bad`));
    expect(error).toBeInstanceOf(HttpNetworkError);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('gzip');
    expect(server.hits('/bad')).toBe(2);
  });

  it('a body in an encoding this client cannot decode (zstd on Node 20, a misspelt one) fails at once, naming the encoding and the URL (redacted): not retried, no wait', async () => {
    const text = Buffer.from(JSON.stringify(payload));
    // zstd's frame magic and some bytes: Node 20's zlib has no zstd, whatever follows.
    const zstdLike = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), zlib.deflateRawSync(text)]);
    const server = await serve({
      '/zstd': encoded('zstd', zstdLike),
      '/typo': encoded('gzip, bro', zlib.brotliCompressSync(zlib.gzipSync(text))),
      '/page': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'zstd' });
        res.end(zstdLike);
      },
    });
    const apiKey = 'enc-k3y-0f-the-kingd0m-42';
    // A 1 s backoff: a retry would show in the time taken as well as in the hits.
    const c = client({ retries: 3, backoffBaseMillis: 1_000, backoffMaxMillis: 1_000 }, { auth: apiKeyAuth('key', apiKey, 'query') });
    const started = performance.now();
    const zstd = await failure(c.request(`${server.url}/zstd?page=2`));
    const typo = await failure(c.request(`${server.url}/typo`));
    const page = await failure(c.request(`${server.url}/page`, { responseType: 'text' }));
    const took = performance.now() - started;
    expect([server.hits('/zstd'), server.hits('/typo'), server.hits('/page')]).toEqual([1, 1, 1]);
    expect(took).toBeLessThan(900);
    for (const error of [zstd, typo, page]) {
      expect(error.code).toBe('HTTP_ENCODING');
      expect(error.retryable).toBe(false);
      expect(error.attempts).toBe(1);
    }
    expect(zstd.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/zstd\?page=2&key=\[REDACTED\]: HTTP 200 body is in Content-Encoding "zstd", which this client cannot decode/);
    expect(zstd.message).not.toContain(apiKey);
    expect(zstd.url).not.toContain(apiKey);
    expect(typo.message).toContain('Content-Encoding "bro"');
    expect(page.message).toContain('"zstd"');
    // The host answered, sanely if not usefully: no failure for its breaker, each request counted once.
    expect(c.stats()).toEqual([expect.objectContaining({ host: server.host, requests: 3, retries: 0, statuses: { 200: 3 } })]);
  });

  it('a JSON body that is plain JSON under a Content-Encoding that names no compression (UTF-8, none: a misconfigured server) is read as it came, as browsers and Python read it', async () => {
    const text = Buffer.from(JSON.stringify(payload));
    const server = await serve({ '/utf8': encoded('UTF-8', text), '/none': encoded('none', text) });
    const c = client({ retries: 0 });
    expect((await c.request(`${server.url}/utf8`)).body).toEqual(payload);
    expect((await c.request(`${server.url}/none`)).body).toEqual(payload);
  });

  it('an unknown encoding on a status that is not read (a 503) is still the status: retried as one', async () => {
    const server = await serve({
      '/busy': faults.sequence((_req, res) => {
        res.writeHead(503, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
        res.end(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]));
      }, faults.json(ok)),
    });
    const c = client({ retries: 1 });
    expect((await c.request(`${server.url}/busy`)).body).toEqual(ok);
    expect(server.hits('/busy')).toBe(2);
  });
});

describe('HttpClient response size limit', () => {
  /** Streams 16 KB chunks until the client goes away; resolves `gone` with the bytes it wrote. */
  function endless(headers: Record<string, string | number> = {}): { handler: Handler; gone: Promise<number> } {
    let done!: (n: number) => void;
    const gone = new Promise<number>((r) => (done = r));
    const handler: Handler = (_req, res) => {
      let written = 0;
      let open = true;
      res.on('close', () => {
        open = false;
        done(written);
      });
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.write('{"results":["');
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = (): void => {
        while (open && written < 512 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (open) res.end('"]}');
      };
      pump();
    };
    return { handler, gone };
  }

  it('an endless chunked body is cut at limits.maxResponseBytes: a clear error naming the URL (redacted) and the limit, not retried', async () => {
    const stream = endless();
    const server = await serve({ '/huge': stream.handler });
    const c = client({ maxResponseBytes: 256 * 1024, retries: 3 });
    const error = await failure(c.request(`${server.url}/huge?api_key=s3cr3t-key-123`));
    expect(error.code).toBe('HTTP_TOO_LARGE');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${server.url}/huge`);
    expect(error.message).not.toContain('s3cr3t-key-123');
    expect(error.message).toContain('262144 bytes (limits.maxResponseBytes)');
    await stream.gone; // the connection was dropped: the server did not send the rest
    expect(server.hits('/huge')).toBe(1);
    expect(c.stats()).toEqual([expect.objectContaining({ requests: 1, retries: 0, statuses: { 200: 1 }, breakerOpens: 0 })]);
  });

  it('a body announcing more than the limit in Content-Length is refused from its headers', async () => {
    const stream = endless({ 'content-length': 512 * 1024 * 1024 + 16 });
    const server = await serve({ '/big': stream.handler });
    const c = client({ maxResponseBytes: 1024 * 1024 });
    const error = await failure(c.request(`${server.url}/big`));
    expect(error.code).toBe('HTTP_TOO_LARGE');
    expect(error.message).toContain('Content-Length 536870928');
    await stream.gone;
  });

  it('a small compressed body decoding past the limit (a gzip bomb) is refused the same way', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const server = await serve({
      '/bomb': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
        res.end(bomb);
      },
    });
    const c = client({ maxResponseBytes: 1024 * 1024, retries: 2 });
    const error = await failure(c.request(`${server.url}/bomb`));
    expect(error.code).toBe('HTTP_TOO_LARGE');
    expect(error.message).toContain('decoded');
    expect(server.hits('/bomb')).toBe(1);
  });

  it('a body within the limit is read; the default limit is 64 MB', async () => {
    expect(limitsSchema.parse({}).maxResponseBytes).toBe(64 * 1024 * 1024);
    const server = await serve({ '/ok': faults.json(ok) });
    const c = client({ maxResponseBytes: 64 });
    expect((await c.request(`${server.url}/ok`)).body).toEqual(ok);
  });
});

describe('HttpClient credentials', () => {
  // A client made directly (not through createHttpContext) sent its credentials to every origin by
  // default: a next-page or export URL on another host (a CDN, a redirect target) got the token.
  it('go by default to the origin of its first credentialed request only', async () => {
    const api = await serve({ '/items': faults.json(ok) });
    const cdn = await serve({ '/export.json': faults.json(ok) });
    const c = client({}, { auth: bearerAuth('direct-client-token-5b2e') });
    await c.request(`${api.url}/items`);
    await c.request(`${cdn.url}/export.json`);
    await c.request(`${api.url}/items?page=2`);
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(['Bearer direct-client-token-5b2e', 'Bearer direct-client-token-5b2e']);
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("go everywhere with authOrigins 'any', and a malformed authOrigins is refused, naming it", async () => {
    const api = await serve({ '/items': faults.json(ok) });
    const cdn = await serve({ '/export.json': faults.json(ok) });
    const c = client({}, { auth: bearerAuth('direct-client-any-8d1f'), authOrigins: 'any' });
    await c.request(`${api.url}/items`);
    await c.request(`${cdn.url}/export.json`);
    expect(cdn.requests[0]!.headers.authorization).toBe('Bearer direct-client-any-8d1f');
    expect(() => client({}, { authOrigins: 'https://api.example.com' as unknown as 'any' })).toThrow(/HttpClient: option "authOrigins" must be 'first', 'any' or a list of origins/);
    expect(() => client({}, { authOrigins: ['https://api.example.com/v1'] })).toThrow(/"https:\/\/api.example.com\/v1" is not an origin \(https:\/\/api.example.com\)/);
  });
});
