import { describe, expect, it } from 'vitest';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import {
  cursorPaginator,
  linkHeaderPaginator,
  linkTarget,
  offsetPaginator,
  pageNumberPaginator,
  vtexResources,
  vtexWindowPaginator,
  type Paginator,
} from '../../../src/extract/http/paginators.js';
import { FAST_LIMITS, makeRecords, pages, startFaultyServer, type FaultyServer } from '../../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

describe('paginators against servers enforcing their rules', () => {
  it('reads every record exactly once with each paginator, stopping at the total or the empty page', async () => {
    const records = makeRecords(123);
    let server!: FaultyServer;
    server = await startFaultyServer({
      '/offset': pages.offset(records, 50),
      '/offset-nototal': pages.offset(records.slice(0, 100), 50),
      '/page': pages.pageNumber(records, 50),
      '/page-total': pages.pageNumber(records, 50),
      '/cursor': pages.cursor(records, 50),
      '/link': pages.link(() => server, '/link', records, 50),
      '/vtex': pages.vtex(records),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = (dataset: string, path: string, paginate: Paginator, items?: string) =>
      httpSource({ source: 'pg', dataset, url: `${server.url}${path}`, paginate, ...(items ? { items } : {}), schema, limits: FAST_LIMITS });
    const result = await lake.extract([
      source('offset', '/offset', offsetPaginator({ limit: 50, totalPath: 'paging.total' }), 'results'),
      source('offset_nototal', '/offset-nototal', offsetPaginator({ limit: 50 }), 'results'),
      source('page', '/page', pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }), 'data'),
      source('page_empty', '/page', pageNumberPaginator(), 'data'),
      source('cursor', '/cursor', cursorPaginator({ cursorPath: 'next_cursor', cursorParam: 'cursor' }), 'items'),
      source('link', '/link', linkHeaderPaginator()),
      source('vtex', '/vtex', vtexWindowPaginator()),
    ]);
    expect(result.status).toBe('success');
    for (const s of result.sources) {
      const expected = s.dataset === 'offset_nototal' ? 100 : 123;
      expect(s, s.dataset).toMatchObject({ status: 'success', rows: expected, rejected: 0 });
      const [counts] = await lake.query(
        `select count(*) n, count(distinct id) d, min(id) lo, max(id) hi from read_parquet('${lake.paths.bronze}/pg/${s.dataset}/**/*.parquet', hive_partitioning = true)`,
      );
      expect(counts, s.dataset).toEqual({ n: expected, d: expected, lo: 1, hi: expected });
    }
    // Requests: stop at the total (3 pages), or one more for the empty page that ends it.
    expect(server.hits('/offset')).toBe(3);
    expect(server.hits('/offset-nototal')).toBe(3); // 50, 50, then an empty page
    expect(server.hits('/page')).toBe(3 + 4); // with total_pages: 3; without: 3 + the empty one
    expect(server.hits('/cursor')).toBe(3);
    expect(server.hits('/link')).toBe(3);
    expect(server.hits('/vtex')).toBe(3);
    const vtexWindows = server.requests.filter((r) => r.path === '/vtex').map((r) => `${r.query.get('_from')}-${r.query.get('_to')}`);
    expect(vtexWindows).toEqual(['0-49', '50-99', '100-149']);
    const offsets = server.requests.filter((r) => r.path === '/offset').map((r) => r.query.get('offset'));
    expect(offsets).toEqual(['0', '50', '100']);
  });

  it('stops a VTEX search at the 2,500-result cap with a warning', async () => {
    const records = makeRecords(2600);
    const server = await startFaultyServer({ '/vtex': pages.vtex(records) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'pg', dataset: 'vtex_cap', url: `${server.url}/vtex`, paginate: vtexWindowPaginator(), schema, limits: FAST_LIMITS }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2500 });
    expect(result.sources[0]!.warnings?.[0]).toMatch(/first 2500 results of a search; 2600 exist and 100 were not reached/);
    expect(server.hits('/vtex')).toBe(50); // never a 400 for _to ≥ 2500
  });

  it('refuses VTEX windows over 50 and other bad options, naming them', () => {
    expect(() => vtexWindowPaginator({ pageSize: 51 })).toThrow(/vtexWindowPaginator: option "pageSize"/);
    expect(() => offsetPaginator({ limit: 0 })).toThrow(/offsetPaginator: option "limit"/);
    expect(() => offsetPaginator({ limit: 10, offest: 'x' } as never)).toThrow(/unknown option "offest"/);
    expect(() => pageNumberPaginator({ totalPath: 'total' })).toThrow(/needs option "size"/);
  });

  it('fails instead of looping when a cursor repeats', async () => {
    const server = await startFaultyServer({
      '/stuck': (_req, res, { url }) => {
        // New records on the second page: the token, not a copied page, is what repeats.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ items: [{ id: url.searchParams.has('c') ? 2 : 1, name: 'a', price: 1 }], next: 'same' }));
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'pg', dataset: 'stuck', url: `${server.url}/stuck`, paginate: cursorPaginator({ cursorPath: 'next', cursorParam: 'c' }), items: 'items', schema, limits: FAST_LIMITS }),
    );
    expect(result.sources[0]!.status).toBe('partial'); // the pages before the loop are kept
    expect(result.sources[0]!.error).toMatch(/same cursor twice/);
    expect(result.sources[0]!.rows).toBe(2);
    expect(server.hits('/stuck')).toBe(2);
  });
});

describe('header parsing', () => {
  it('reads rel="next" from Link headers, with several rels and odd spacing', () => {
    const header = '<https://api.test/items?page=1>; rel="first", <https://api.test/items?page=3>;rel="next last" , <https://api.test/items?page=9>; rel=prev';
    expect(linkTarget(header, 'next')).toBe('https://api.test/items?page=3');
    expect(linkTarget(header, 'prev')).toBe('https://api.test/items?page=9');
    expect(linkTarget(header, 'other')).toBeUndefined();
    expect(linkTarget(undefined, 'next')).toBeUndefined();
  });

  it('reads Link params whose quoted values hold commas, angle brackets, semicolons or rel= (RFC 8288 quoted-string)', () => {
    // A title naming the range, with markup: the comma and "<" inside quotes start no new link.
    const titled = '<https://api.test/items?page=1>; title="Items 1-50, <b>first</b>"; rel="prev", <https://api.test/items?page=3>; title="Items 101-150, <b>last</b>"; rel="next"';
    expect(linkTarget(titled, 'next')).toBe('https://api.test/items?page=3');
    expect(linkTarget(titled, 'prev')).toBe('https://api.test/items?page=1');
    // A "; rel=prev" inside a quoted title is text, not the link's relation.
    const quotedRel = '<https://api.test/items?page=2>; title="older; rel=prev"; rel="next"';
    expect(linkTarget(quotedRel, 'next')).toBe('https://api.test/items?page=2');
    expect(linkTarget(quotedRel, 'prev')).toBeUndefined();
    // An escaped quote inside a quoted value does not end it.
    expect(linkTarget('<https://api.test/items?page=4>; title="say \\"hi\\", <x>"; rel=next', 'next')).toBe('https://api.test/items?page=4');
  });

  it('reads VTEX resources headers', () => {
    expect(vtexResources('0-49/5024')).toEqual({ from: 0, to: 49, total: 5024 });
    expect(vtexResources(['100-122/123'])).toEqual({ from: 100, to: 122, total: 123 });
    expect(vtexResources('nonsense')).toBeUndefined();
  });
});
