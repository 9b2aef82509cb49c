import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import {
  cursorPaginator,
  linkHeaderPaginator,
  offsetPaginator,
  pageNumberPaginator,
  vtexWindowPaginator,
  PaginationError,
  type PageRequest,
  type Paginator,
} from '../../../src/extract/http/paginators.js';
import type { HttpResponse } from '../../../src/extract/http/client.js';
import { FAST_LIMITS, makeRecords, sendJson, startFaultyServer, type FaultyServer, type Handler } from '../../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

async function serve(routes: Record<string, Handler>): Promise<FaultyServer> {
  const server = await startFaultyServer(routes);
  registerCleanup(() => server.close());
  return server;
}

async function run(server: FaultyServer, dataset: string, path: string, paginate: Paginator, items?: string) {
  const lake = await tempLake();
  const result = await lake.extract([
    httpSource({ source: 'pg', dataset, url: `${server.url}${path}`, paginate, ...(items ? { items } : {}), schema, limits: FAST_LIMITS }),
  ]);
  return { lake, source: result.sources[0]! };
}

describe('pageNumberPaginator with totalPath counts the records received', () => {
  it('reads to the total when the API caps per_page below the size asked', async () => {
    const records = makeRecords(150);
    const server = await serve({
      '/list': (_req, res, { url }) => {
        const page = Number(url.searchParams.get('page'));
        const size = Math.min(Number(url.searchParams.get('per_page')), 50); // the API's own maximum
        sendJson(res, 200, { data: records.slice((page - 1) * size, page * size), meta: { total: records.length } });
      },
    });
    const { lake, source } = await run(server, 'capped', '/list', pageNumberPaginator({ size: 100, totalPath: 'meta.total' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 150 });
    const [counts] = await lake.query(`select count(distinct id) d from read_parquet('${lake.paths.bronze}/pg/capped/**/*.parquet')`);
    expect(counts).toEqual({ d: 150 });
    expect(server.hits('/list')).toBe(3); // stops at the total, no extra empty page
  });

  it('still stops at the total without an extra request when the API serves the size asked', async () => {
    const records = makeRecords(150);
    const server = await serve({
      '/list': (_req, res, { url }) => {
        const page = Number(url.searchParams.get('page'));
        const size = Number(url.searchParams.get('per_page'));
        sendJson(res, 200, { data: records.slice((page - 1) * size, page * size), meta: { total: records.length } });
      },
    });
    const { source } = await run(server, 'uncapped', '/list', pageNumberPaginator({ size: 100, totalPath: 'meta.total' }), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 150 });
    expect(server.hits('/list')).toBe(2);
  });

  it('without the run trail (a request object it did not hand out), reckons earlier pages by the short page', () => {
    const paginate = pageNumberPaginator({ size: 100, totalPath: 'meta.total' });
    const page = (n: number, count: number, total: number) => ({
      request: { query: { page: n, per_page: 100 } } as PageRequest,
      response: { status: 200, url: 'http://api.test/list', headers: {}, body: { meta: { total } }, bytes: 0 } as unknown as HttpResponse<unknown>,
      records: makeRecords(count),
      warn: () => {},
    });
    expect(paginate.next(page(2, 50, 150))).toEqual({ query: { page: 3, per_page: 100 } }); // 2 × 50 < 150
    expect(paginate.next(page(3, 50, 150))).toBeNull(); // 3 × 50 ≥ 150
    expect(paginate.next(page(1, 100, 150))).toEqual({ query: { page: 2, per_page: 100 } });
    expect(paginate.next(page(2, 100, 150))).toBeNull();
  });
});

describe('vtexWindowPaginator trusts the resources total', () => {
  it('reads past the first window when the API answers 200 though resources says more exist', async () => {
    const records = makeRecords(120);
    const server = await serve({
      '/search': (_req, res, { url }) => {
        const from = Number(url.searchParams.get('_from'));
        const to = Number(url.searchParams.get('_to'));
        sendJson(res, 200, records.slice(from, to + 1), { resources: `${from}-${to}/${records.length}` });
      },
    });
    const { source } = await run(server, 'vtex200', '/search', vtexWindowPaginator());
    expect(source).toMatchObject({ status: 'success', rows: 120 });
    expect(server.hits('/search')).toBe(3);
  });

  it('without a resources header, follows 206 and stops at the 200', async () => {
    const records = makeRecords(120);
    const server = await serve({
      '/search': (_req, res, { url }) => {
        const from = Number(url.searchParams.get('_from'));
        const to = Number(url.searchParams.get('_to'));
        sendJson(res, to < records.length - 1 ? 206 : 200, records.slice(from, to + 1));
      },
    });
    const { source } = await run(server, 'vtexnohdr', '/search', vtexWindowPaginator());
    expect(source).toMatchObject({ status: 'success', rows: 120 });
    expect(server.hits('/search')).toBe(3);
  });

  it('at the 2,500 cap without a resources header, warns that an unknown number were not reached (not 0)', async () => {
    const records = makeRecords(2600);
    const server = await serve({
      // A store that sends no resources header: 206 while more remain, 200 on the last window.
      '/vtex': (_req, res, { url }) => {
        const from = Number(url.searchParams.get('_from'));
        const to = Number(url.searchParams.get('_to'));
        if (to >= 2500) return sendJson(res, 400, { error: "_to can't be greater than 2499" });
        sendJson(res, to < records.length - 1 ? 206 : 200, records.slice(from, to + 1));
      },
    });
    const { source } = await run(server, 'vtex_noheader', '/vtex', vtexWindowPaginator());
    expect(source).toMatchObject({ status: 'success', rows: 2500 });
    const warning = (source.warnings ?? []).find((w) => /first 2500 results/.test(w));
    expect(warning).toBeDefined();
    // The store answered 206 on the last window read: more results exist, an unknown number of them.
    expect(warning).not.toMatch(/\b0 were not reached/);
    expect(warning).toMatch(/more exist, an unknown number not reached/);
  });
});

describe('paginators fail instead of looping', () => {
  it('fails a cursor API whose tokens cycle a → b → a, naming the parameter', async () => {
    const server = await serve({
      '/cyc': (_req, res, { url, count }) => {
        const c = url.searchParams.get('c');
        if (count > 40) return sendJson(res, 200, { items: [], next: null }); // the test's own brake
        // Each page its own record: a page repeating the one before is another failure (below).
        sendJson(res, 200, { items: [{ id: c === 'b' ? 3 : c === 'a' ? 2 : 1, name: 'x', price: 1 }], next: c === 'a' ? 'b' : 'a' });
      },
    });
    const { source } = await run(server, 'cyc', '/cyc', cursorPaginator({ cursorPath: 'next', cursorParam: 'c' }), 'items');
    expect(server.hits('/cyc')).toBe(3); // first page, a, b: then "a" again is refused
    expect(source.rows).toBeLessThanOrEqual(3);
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/cursorPaginator: .*\/cyc returned cursor "a" for "c", already followed earlier in this run/);
  });

  it('fails an API that ignores the page parameter (the same page every time), naming it', async () => {
    const server = await serve({
      '/same': (_req, res, { count }) => sendJson(res, 200, { data: count > 40 ? [] : makeRecords(2) }), // the test's own brake
    });
    const { source } = await run(server, 'same', '/same', pageNumberPaginator(), 'data');
    expect(server.hits('/same')).toBe(2);
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/pageNumberPaginator: .*\/same answered "page=2" with the same 2 records as the page before/);
    // The repeated page is left out: only the first page's records are stored.
    expect(source.rows).toBe(2);
  });

  it('marks the error of a repeated page so a caller can leave the copy out', () => {
    const paginate = pageNumberPaginator();
    const response = { status: 200, url: 'http://api.test/same?page=1&api_key=k', headers: {}, body: {}, bytes: 0 } as unknown as HttpResponse<unknown>;
    const first = paginate.first();
    const second = paginate.next({ request: first, response, records: makeRecords(2), warn: () => {} })!;
    expect(second).toEqual({ query: { page: 2 } });
    let error: unknown;
    try {
      paginate.next({ request: second, response, records: makeRecords(2), warn: () => {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PaginationError);
    expect(error).toMatchObject({ repeatsPreviousPage: true });
    expect((error as Error).message).not.toContain('api_key'); // the URL is named without its query
    // Different records on the next page: no alarm.
    expect(paginate.next({ request: second, response, records: makeRecords(2, 3), warn: () => {} })).toEqual({ query: { page: 3 } });
  });

  it('tells a repeated page by all its records: same first and last records with another between is a new page', () => {
    const paginate = pageNumberPaginator();
    const response = { status: 200, url: 'http://api.test/p?page=1', headers: {}, body: {}, bytes: 0 } as unknown as HttpResponse<unknown>;
    const page = (middle: string) => [{ id: 1, name: 'a', price: 1 }, { id: 2, name: middle, price: 2 }, { id: 3, name: 'c', price: 3 }];
    const first = paginate.first();
    const second = paginate.next({ request: first, response, records: page('b'), warn: () => {} })!;
    const third = paginate.next({ request: second, response, records: page('B'), warn: () => {} });
    expect(third).toEqual({ query: { page: 3 } });
    // The page before may have had its integers turned into bigints in place by the consumer
    // (a z.bigint() field): the same digits are still the same records.
    const consumed = page('C');
    const fourth = paginate.next({ request: third!, response, records: consumed, warn: () => {} })!;
    for (const record of consumed) (record as Record<string, unknown>).id = BigInt(record.id);
    expect(() => paginate.next({ request: fourth, response, records: page('C'), warn: () => {} })).toThrow(PaginationError);
  });

  it('fails an API that ignores the offset parameter', async () => {
    const server = await serve({
      '/same': (_req, res, { count }) => sendJson(res, 200, { results: count > 40 ? [] : makeRecords(2) }),
    });
    const { source } = await run(server, 'same_offset', '/same', offsetPaginator({ limit: 2 }), 'results');
    expect(server.hits('/same')).toBe(2);
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/offsetPaginator: .*answered "offset=2" with the same 2 records/);
  });

  it('fails Link headers that cycle page 1 → 2 → 1', async () => {
    let server!: FaultyServer;
    server = await serve({
      '/link': (_req, res, { url }) => {
        const page = Number(url.searchParams.get('page') ?? 1);
        const next = page === 1 ? 2 : 1;
        sendJson(res, 200, makeRecords(1, page), { link: `<${server.url}/link?page=${next}>; rel="next"` });
      },
    });
    const { source } = await run(server, 'link_cycle', '/link', linkHeaderPaginator());
    expect(server.hits('/link')).toBeLessThanOrEqual(3);
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/went back to a page already read in this run/);
  });

  it('fails a cursor API that ignores the cursor parameter and mints a fresh token each time, naming the parameter', async () => {
    // An API whose next-page tokens carry a nonce (a wrong cursorParam, or an API ignoring it):
    // every answer is the first page again, with a new token.
    const server = await serve({
      '/nonce': (_req, res, { count }) => {
        if (count > 30) return sendJson(res, 200, { items: [], next: null }); // the test's own brake
        sendJson(res, 200, { items: makeRecords(2), next: randomBytes(6).toString('hex') });
      },
    });
    const { lake, source } = await run(server, 'nonce', '/nonce', cursorPaginator({ cursorPath: 'next', cursorParam: 'after' }), 'items');
    expect(server.hits('/nonce')).toBe(2);
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/"after"/);
    expect(source.rows).toBe(2);
    const [counts] = await lake.query(`select count(*) n from read_parquet('${lake.paths.bronze}/pg/nonce/**/*.parquet')`);
    expect(counts).toEqual({ n: 2 });
  });

  it('fails Link headers whose next pages all repeat the records of the page before (the API ignores its own page parameter)', async () => {
    let server!: FaultyServer;
    server = await serve({
      '/ignored': (_req, res, { url, count }) => {
        const page = Number(url.searchParams.get('page') ?? 1);
        const link: Record<string, string> = count > 30 ? {} : { link: `<${server.url}/ignored?page=${page + 1}>; rel="next"` }; // the test's own brake
        sendJson(res, 200, makeRecords(2), link);
      },
    });
    const { source } = await run(server, 'link_ignored', '/ignored', linkHeaderPaginator());
    expect(server.hits('/ignored')).toBe(2);
    expect(source.status).toBe('partial');
    expect(source.rows).toBe(2);
    expect(source.error).toMatch(/linkHeaderPaginator: .*\/ignored answered its rel="next" link \(changing "page"\) with the same 2 records/);
  });

  it('does not store the first page twice when a Link header wraps around to the URL the source started from', async () => {
    let server!: FaultyServer;
    server = await serve({
      '/wrap': (_req, res, { url, count }) => {
        const page = Number(url.searchParams.get('page') ?? 1);
        // Page 1 → page 2 → back to the source's own URL (some APIs wrap around after the last page).
        const next: Record<string, string> = count > 30 ? {} : { link: page === 1 ? `<${server.url}/wrap?page=2>; rel="next"` : `<${server.url}/wrap>; rel="next"` };
        sendJson(res, 200, makeRecords(1, page), next);
      },
    });
    const { lake, source } = await run(server, 'link_wrap', '/wrap', linkHeaderPaginator());
    expect(source.status).toBe('partial');
    expect(source.error).toMatch(/already read in this run/);
    // The page already read is not stored again.
    const rows = await lake.query(`select id, count(*) n from read_parquet('${lake.paths.bronze}/pg/link_wrap/**/*.parquet') group by id order by id`);
    expect(rows).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 1 },
    ]);
    expect(server.hits('/wrap')).toBe(2);
  });
  it('still reads pages with equal records when the pages differ (no false alarm)', async () => {
    const records = makeRecords(6);
    const server = await serve({
      '/page': (_req, res, { url }) => {
        const page = Number(url.searchParams.get('page'));
        sendJson(res, 200, { data: records.slice((page - 1) * 2, page * 2) });
      },
    });
    const { source } = await run(server, 'fine', '/page', pageNumberPaginator(), 'data');
    expect(source).toMatchObject({ status: 'success', rows: 6 });
  });
});
