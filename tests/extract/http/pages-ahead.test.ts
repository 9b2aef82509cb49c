import { describe, expect, it } from 'vitest';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import { offsetPaginator, pageNumberPaginator, vtexWindowPaginator, type Paginator } from '../../../src/extract/http/paginators.js';
import { FAST_LIMITS, faults, makeRecords, pages, sendJson, startFaultyServer, type FaultyServer, type Handler } from '../../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

/** A route that answers after `ms` and counts how many of its requests were in flight at once. */
function slow(ms: number, handler: Handler): { handler: Handler; peak: () => number } {
  let active = 0;
  let peak = 0;
  return {
    handler: async (req, res, hit) => {
      active += 1;
      peak = Math.max(peak, active);
      try {
        await faults.delayed(ms, handler)(req, res, hit);
      } finally {
        active -= 1;
      }
    },
    peak: () => peak,
  };
}

async function serve(routes: Record<string, Handler>): Promise<FaultyServer> {
  const server = await startFaultyServer(routes);
  registerCleanup(() => server.close());
  return server;
}

async function extract(server: FaultyServer, path: string, paginate: Paginator, items: string, inFlight = 4) {
  const lake = await tempLake();
  const result = await lake.extract(httpSource({ source: 'ahead', dataset: 'd', url: `${server.url}${path}`, paginate, items, schema, limits: { ...FAST_LIMITS, inFlight } }));
  const rows = await lake.query<{ id: number }>(`select id from read_parquet('${lake.paths.bronze}/ahead/d/**/*.parquet') order by id`);
  return { source: result.sources[0]!, ids: rows.map((r) => Number(r.id)) };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('pages the API says exist go out ahead, up to the in-flight limit', () => {
  it('page numbers with a page count: several in flight, every record once, no request past the last page', async () => {
    const route = slow(30, pages.pageNumber(makeRecords(60), 5)); // 12 pages
    const server = await serve({ '/p': route.handler });
    const { source, ids: got } = await extract(server, '/p', pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 60 });
    expect(got).toEqual(ids(60));
    expect(route.peak()).toBeGreaterThan(1);
    expect(route.peak()).toBeLessThanOrEqual(4); // the source's inFlight
    expect(server.hits('/p')).toBe(12);
  });

  it('one at a time with inFlight 1, and without a total (nothing known past the next page)', async () => {
    const one = slow(10, pages.pageNumber(makeRecords(30), 5));
    const unknown = slow(10, (_req, res, { url }) => {
      const page = Number(url.searchParams.get('page'));
      sendJson(res, 200, { data: makeRecords(30).slice((page - 1) * 5, page * 5) }); // no page count
    });
    const server = await serve({ '/one': one.handler, '/unknown': unknown.handler });
    const a = await extract(server, '/one', pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), 'data', 1);
    const b = await extract(server, '/unknown', pageNumberPaginator(), 'data');
    expect(a.ids).toEqual(ids(30));
    expect(b.ids).toEqual(ids(30));
    expect(one.peak()).toBe(1);
    expect(unknown.peak()).toBe(1);
    expect(server.hits('/unknown')).toBe(7); // six pages and the empty one that ends it
  });

  it('a record total with a page size: pages proven by the total only, read to the end when the API caps the size', async () => {
    const records = makeRecords(170);
    const capped = slow(20, (_req, res, { url }) => {
      const page = Number(url.searchParams.get('page'));
      const size = Math.min(Number(url.searchParams.get('per_page')), 25); // the API's own maximum, below the 50 asked
      sendJson(res, 200, { data: records.slice((page - 1) * size, page * size), meta: { total: records.length } });
    });
    const server = await serve({ '/capped': capped.handler });
    const { source, ids: got } = await extract(server, '/capped', pageNumberPaginator({ size: 50, totalPath: 'meta.total' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 170 });
    expect(got).toEqual(ids(170));
    expect(capped.peak()).toBeGreaterThan(1);
    expect(server.hits('/capped')).toBe(7); // 7 × 25 ≥ 170: no request past the end
  });

  it('a record total with a page size, an API serving more than the size asked: no request past the last page', async () => {
    const records = makeRecords(200);
    const big = slow(20, (_req, res, { url }) => {
      const page = Number(url.searchParams.get('page'));
      if (page > 4) return sendJson(res, 400, { error: 'past the last page' });
      sendJson(res, 200, { data: records.slice((page - 1) * 50, page * 50), meta: { total: records.length } }); // 50 a page, whatever per_page says
    });
    const server = await serve({ '/big': big.handler });
    const { source, ids: got } = await extract(server, '/big', pageNumberPaginator({ size: 20, totalPath: 'meta.total' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 200 });
    expect(got).toEqual(ids(200));
    expect(big.peak()).toBeGreaterThan(1);
    expect(server.requests.map((r) => Number(r.query.get('page'))).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
  });

  it('a page count and a record total that disagree: pages go ahead only as far as both allow, as the paginator stops at either', async () => {
    const records = makeRecords(40);
    const both = slow(20, (_req, res, { url }) => {
      const page = Number(url.searchParams.get('page'));
      if (page > 4) return sendJson(res, 400, { error: 'past the last page' });
      // The page count is stale (10); the record total ends the crawl at page 4.
      sendJson(res, 200, { data: records.slice((page - 1) * 10, page * 10), meta: { total_pages: 10, total: records.length } });
    });
    const server = await serve({ '/both': both.handler });
    const { source, ids: got } = await extract(server, '/both', pageNumberPaginator({ size: 10, totalPath: 'meta.total', totalPagesPath: 'meta.total_pages' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 40 });
    expect(got).toEqual(ids(40));
    expect(server.requests.map((r) => Number(r.query.get('page'))).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
  });

  it('offsets: a page that comes back short drops the offsets guessed after it, and no record is lost or doubled', async () => {
    const records = makeRecords(200);
    const short = slow(20, (_req, res, { url }) => {
      const offset = Number(url.searchParams.get('offset'));
      const limit = Number(url.searchParams.get('limit'));
      // The page at offset 40 serves 7 records instead of 20: the offsets after it move.
      const end = offset === 40 ? offset + 7 : offset + limit;
      sendJson(res, 200, { results: records.slice(offset, end), paging: { total: records.length } });
    });
    const server = await serve({ '/short': short.handler });
    const { source, ids: got } = await extract(server, '/short', offsetPaginator({ limit: 20, totalPath: 'paging.total' }), 'results');
    expect(source).toMatchObject({ status: 'success', rows: 200 });
    expect(got).toEqual(ids(200));
    expect(short.peak()).toBeGreaterThan(1);
    // The offsets the records moved to were read; the guesses past the short page (60, 80…) were
    // answered too, and dropped.
    const used = server.requests.filter((r) => r.path === '/short').map((r) => Number(r.query.get('offset')));
    expect(used).toEqual(expect.arrayContaining([0, 20, 40, 47, 67, 87, 107, 127, 147, 167, 187]));
    expect(used).toContain(60);
  });

  it('VTEX windows: the total in `resources` sends the next windows ahead; a 500 on one of them is retried in its turn', async () => {
    const products = Array.from({ length: 230 }, (_, i) => ({ id: i + 1, name: `p${i + 1}`, price: i }));
    const vtex = pages.vtex(products);
    let failed = false;
    const route = slow(20, (req, res, hit) => {
      if (!failed && hit.url.searchParams.get('_from') === '150') {
        failed = true;
        return sendJson(res, 500, { error: 'once' });
      }
      return vtex(req, res, hit);
    });
    const server = await serve({ '/search': route.handler });
    const { source, ids: got } = await extract(server, '/search', vtexWindowPaginator(), '');
    expect(source).toMatchObject({ status: 'success', rows: 230 });
    expect(got).toEqual(ids(230));
    expect(route.peak()).toBeGreaterThan(1);
    expect(failed).toBe(true);
    expect(server.hits('/search')).toBe(6); // 5 windows of 50, one of them twice
  });

  it('a page known to have failed for good stops the sending ahead: no request past it', async () => {
    const data = pages.pageNumber(makeRecords(60), 5); // 12 pages
    const late = faults.delayed(100, data);
    // Pages 2 to 4 answer only once page 5's 404 is sent (and 100 ms more for the client to read it):
    // were they answered first, a slot would free before page 5 is known to have failed, and a page
    // past it would rightly go out. A delay from their own arrival lost that race under load.
    let goneSent!: () => void;
    const gone = new Promise<void>((resolve) => (goneSent = resolve));
    const server = await serve({
      '/gone': async (req, res, hit) => {
        const page = Number(hit.url.searchParams.get('page'));
        if (page === 5) {
          res.once('finish', goneSent);
          return sendJson(res, 404, { error: 'gone' });
        }
        if (page > 1) await gone;
        await late(req, res, hit);
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(httpSource({ source: 'ahead', dataset: 'gone', url: `${server.url}/gone`, paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), items: 'data', schema, limits: { ...FAST_LIMITS, inFlight: 4 } }));
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: 20, requests: 5 });
    // Page 5 went out with pages 2 to 4 and failed before they were read: nothing was sent past it.
    // (Page 1 first, for its page count; the four sent together reach the server in any order.)
    const [first, ...together] = server.requests.map((r) => Number(r.query.get('page')));
    expect({ first, together: together.sort((a, b) => a - b) }).toEqual({ first: 1, together: [2, 3, 4, 5] });
    const [stats] = await lake.metrics.select('SELECT requests, statuses FROM http_stats WHERE run_id = $1', [result.runId]);
    expect({ requests: stats!.requests, statuses: JSON.parse(String(stats!.statuses)) }).toEqual({ requests: 5, statuses: { 200: 4, 404: 1 } });
  });

  it('a page that fails for good while the pages after it are in flight: partial with the pages before it, and http_stats gives every request its status', async () => {
    const data = pages.pageNumber(makeRecords(60), 5); // 12 pages
    const server = await serve({
      '/dead': async (req, res, hit) => {
        const page = Number(hit.url.searchParams.get('page'));
        // Page 5 fails slowly, twice: pages 6 to 8 go out ahead meanwhile and are still out
        // (answering after a second) when it gives up.
        await new Promise((resolve) => setTimeout(resolve, page === 5 ? 200 : page > 5 ? 1_000 : 20));
        if (page === 5) return sendJson(res, 503, { error: 'down' });
        if (!res.destroyed) await data(req, res, hit);
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'ahead', dataset: 'dead', url: `${server.url}/dead`, paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), items: 'data', schema, limits: { ...FAST_LIMITS, inFlight: 4, retries: 1 } }),
    );
    const rows = await lake.query<{ id: number }>(`select id from read_parquet('${lake.paths.bronze}/ahead/dead/**/*.parquet') order by id`);
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: 20, requests: 9, retries: 1 });
    expect(rows.map((r) => Number(r.id))).toEqual(ids(20));
    expect(server.requests.map((r) => Number(r.query.get('page'))).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 5, 6, 7, 8]);
    const [stats] = await lake.metrics.select('SELECT requests, retries, statuses FROM http_stats WHERE run_id = $1', [result.runId]);
    expect({ requests: stats!.requests, retries: stats!.retries }).toEqual({ requests: 9, retries: 1 });
    // Pages 6 to 8 reached the server and got no answer before the source stopped them: counted as
    // failed requests, not left out of the statuses.
    expect(JSON.parse(String(stats!.statuses))).toEqual({ 200: 4, 503: 2, ERR: 3 });
  });

  it('a blip that retries ride out one page at a time does not open the breaker because four pages were out together', async () => {
    const data = pages.pageNumber(makeRecords(60), 5); // 12 pages
    let downUntil = 0;
    const server = await serve({
      '/blip': async (req, res, hit) => {
        // The API goes down for 300 ms when page 4 is first asked for.
        if (hit.url.searchParams.get('page') === '4' && downUntil === 0) downUntil = Date.now() + 300;
        if (Date.now() < downUntil) return sendJson(res, 503, { error: 'blip' });
        await faults.delayed(20, data)(req, res, hit);
      },
    });
    const lake = await tempLake();
    const limits = { ...FAST_LIMITS, backoffBaseMillis: 200, backoffMaxMillis: 2_000, retries: 5, breakerFailures: 5, inFlight: 4 };
    const result = await lake.extract(
      httpSource({ source: 'ahead', dataset: 'blip', url: `${server.url}/blip`, paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), items: 'data', schema, limits }),
    );
    expect(result.sources[0]!.error ?? 'no error').toBe('no error');
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 60 });
    expect(server.requests.filter((r) => r.path === '/blip').length).toBeGreaterThan(12); // it did fail, and retried
  }, 60_000);

  it('a 503 with Retry-After on pages out together: the wait is paid once, as one page at a time pays it, not once per page in turn', async () => {
    const data = pages.pageNumber(makeRecords(40), 5); // 8 pages
    // Pages 2 to 5 (sent together) each get a 503 the first time they are asked for.
    const asked = new Set<string>();
    const server = await serve({
      '/maintenance': async (req, res, hit) => {
        const page = hit.url.searchParams.get('page')!;
        const first = !asked.has(page);
        asked.add(page);
        if (first && ['2', '3', '4', '5'].includes(page)) return sendJson(res, 503, { error: 'maintenance' }, { 'retry-after': '2' });
        await faults.delayed(20, data)(req, res, hit);
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'ahead', dataset: 'maintenance', url: `${server.url}/maintenance`, paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), items: 'data', schema, limits: { ...FAST_LIMITS, inFlight: 4, retries: 3 } }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 40 });
    // Pages 2 to 5 got the 503 together; each waiting its 2 s after the one before sent their
    // retries 2 s apart (8.5 s in all). Paid once, the retries go out together: told by when the
    // server saw them, not by the run's whole time, which a loaded machine stretches past any bound.
    const retriesAt = ['2', '3', '4', '5'].map((page) => server.requests.filter((r) => r.query.get('page') === page).map((r) => r.at));
    expect(retriesAt.map((at) => at.length)).toEqual([2, 2, 2, 2]);
    const second = retriesAt.map((at) => at[1]!);
    expect(Math.max(...second) - Math.min(...second)).toBeLessThan(1_500);
  }, 30_000);
});
