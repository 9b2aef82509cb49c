/**
 * htmlSource against the loopback shop site (examples/fixtures/shop-site): a complete crawl of
 * categories and pagination, the faulty pages quarantined with their reasons, function
 * extractors, origins and maxPages, and a crawl killed with SIGKILL in a child process then
 * resumed in this one.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, z, type Lakehouse } from '../../src/index.js';
import { htmlSource, normalizeCrawlUrl, type HtmlSourceOptions } from '../../src/extract/html-source.js';
import { parsePackSize } from '../../src/extract/brazil.js';
import { stringifyJsonExact } from '../../src/extract/json-exact.js';
import { MAX_RECORDED_CURSOR_BYTES } from '../../src/metrics/metrics-db.js';
import {
  listingPath,
  SHOP_PAGE_SIZE,
  shopSiteListingPaths,
  shopSiteProducts,
  shopSiteReadableProducts,
  startShopSite,
  type ShopSiteServer,
} from '../../examples/fixtures/shop-site/server.js';
import { shopSiteSource, spawnCrawl } from '../helpers/child-crawl.js';
import { tempLake } from '../helpers/temp-lake.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function site(options: Parameters<typeof startShopSite>[0] = {}): Promise<ShopSiteServer> {
  const s = await startShopSite(options);
  servers.push(s);
  return s;
}

/** Another origin on loopback, counting its hits (the "external" site). */
async function otherOrigin(): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body><p>parceiro</p></body></html>');
  });
  return { url: await listen(server), hits: () => hits };
}

/** A crawl from `base`'s home page following its links, each `li.product` a record of its `data-sku`. */
function skuCrawl(base: string, options: Partial<HtmlSourceOptions>) {
  return htmlSource({
    source: 'shop',
    dataset: 'products',
    startUrls: [`${base}/`],
    follow: 'a',
    extract: { items: 'li.product', fields: { sku: { attr: 'data-sku' } } },
    schema: z.object({ sku: z.string() }),
    ...options,
  });
}

/** Starts `server` on loopback, closed after the file's tests; its base URL. */
async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const FAST = { requestsPerSecond: 1_000, burst: 100, backoffBaseMillis: 5, backoffMaxMillis: 50 };

const bronze = (lake: Lakehouse): string => `read_parquet('${lake.paths.bronze}/shop/products/**/*.parquet', hive_partitioning = true)`;

interface QuarantineLine {
  runId: string;
  url?: string;
  reasons: { path: string; message: string }[];
  record: Record<string, unknown>;
}

function quarantine(lake: Lakehouse, runId: string): QuarantineLine[] {
  const file = path.join(lake.paths.root, 'quarantine', 'shop', 'products', `${runId}.ndjson`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as QuarantineLine);
}

/** The crawl's frontier; `name` is `shop.products.store=exemplo` for shopSiteSource (its constant partition scopes its cursor). */
function savedCursor(lake: Lakehouse, name = 'shop.products'): any {
  const file = path.join(lake.paths.state, 'cursors', `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { cursor: unknown }).cursor : undefined;
}

/**
 * Requests per page the crawler asked for: the hops got follows by itself (the redirect loop,
 * /ofertas → /c/limpeza) reach the server too, but are not the crawler fetching those pages.
 */
function requestedByCrawler(counts: Record<string, number>): Record<string, number> {
  const { '/loop-a': _a, '/loop-b': _b, ...rest } = counts;
  const limpeza = (rest['/c/limpeza'] ?? 0) - (rest['/ofertas'] ?? 0);
  if (limpeza > 0) rest['/c/limpeza'] = limpeza;
  else delete rest['/c/limpeza'];
  return rest;
}

/** The listing page each product is on. */
function pageOf(sku: string): string {
  const products = shopSiteProducts();
  const p = products.find((x) => x.sku === sku)!;
  const index = products.filter((x) => x.category === p.category).indexOf(p);
  return listingPath(p.category, Math.floor(index / SHOP_PAGE_SIZE) + 1);
}

describe('htmlSource on a shop website', () => {
  it('crawls every category and listing page once, reads each product once, and quarantines the broken page, the 404 and the redirect loop', async () => {
    const other = await otherOrigin();
    const shop = await site({ externalLinks: [`${other.url}/`] });
    const lake = await tempLake();
    const result = await lake.extract([shopSiteSource({ baseUrl: shop.url })]);

    // Pages that failed are recorded, not fatal: the crawl did all it could, so it succeeded (with rejects).
    expect(result.status).toBe('success');
    const readable = shopSiteReadableProducts();
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: readable.length, rejected: 4 });
    expect(result.sources[0]!.warnings).toEqual([expect.stringMatching(/page http:.*\/c\/padaria looks truncated \(no closing <\/html>\)/)]);

    const rows = await lake.query(`select sku, name, price, url, pack, _url, store from ${bronze(lake)} order by sku`);
    expect(rows).toEqual(
      readable
        .map((p) => ({
          sku: p.sku,
          name: p.name, // whitespace collapsed ("Arroz  Branco\n" on the page)
          price: p.priceCents / 100,
          url: `${shop.url}/p/${p.sku.toLowerCase()}`,
          pack: parsePackSize(p.name),
          _url: `${shop.url}${pageOf(p.sku)}`,
          store: 'exemplo',
        }))
        .sort((a, b) => a.sku.localeCompare(b.sku)),
    );
    // Thousands separators and non-breaking spaces in prices.
    expect(rows.find((r) => r.sku === 'BEB-008')).toMatchObject({ name: 'Whisky Johnnie Walker Blue Label 750ml', price: 1299.9 });

    // Every page once: links come in several spellings (fragments, parameter order) and on every page.
    const pages = ['/', ...shopSiteListingPaths(), '/c/padaria', '/c/congelados', '/c/hortifruti', '/ofertas-relampago', '/ofertas'];
    for (const p of pages.filter((x) => x !== '/c/limpeza')) {
      expect(shop.hits(p), p).toBe(1);
    }
    // /ofertas redirects to /c/limpeza, which the menu also links: fetched twice, read once.
    expect(shop.hits('/c/limpeza')).toBe(2);
    // Not followed: product pages (no follow selector matches them), other origins, mailto.
    expect(Object.keys(shop.counts()).filter((p) => p.startsWith('/p/'))).toEqual([]);
    expect(other.hits()).toBe(0);

    const lines = quarantine(lake, result.runId);
    const byUrl = Object.fromEntries(lines.filter((l) => l.url).map((l) => [l.url!.replace(shop.url, ''), l.reasons[0]!.message]));
    expect(byUrl).toEqual({
      '/c/hortifruti': 'HTTP 404',
      '/c/congelados': 'empty page: the HTML has no content',
      '/ofertas-relampago': expect.stringMatching(/^redirect loop \(too many redirects\): .*Redirected 10 times/),
    });
    expect(lines.find((l) => l.url?.endsWith('/c/hortifruti'))!.record).toEqual({ url: `${shop.url}/c/hortifruti`, from: `${shop.url}/`, status: 404 });
    // The card cut off on the broken page fails validation, with the page it came from.
    const cut = lines.find((l) => l.record.sku === 'PAD-002')!;
    expect(cut.reasons).toEqual([expect.objectContaining({ path: 'price' })]);
    expect(cut.record._url).toBe(`${shop.url}/c/padaria`);

    // A finished crawl leaves nothing to resume: the next run starts over from the start URLs.
    expect(savedCursor(lake, 'shop.products.store=exemplo')).toMatchObject({ finished: true, pages: 12 });
    const again = await lake.extract([shopSiteSource({ baseUrl: shop.url })]);
    expect(again.sources[0]).toMatchObject({ status: 'success', rows: readable.length, rejected: 4 });
    expect(shop.hits('/')).toBe(2);
  }, 60_000);

  it('takes extract and follow functions; a page whose extract throws is quarantined and the crawl goes on', async () => {
    const shop = await site();
    const lake = await tempLake();
    const source = htmlSource({
      source: 'shop',
      dataset: 'products',
      startUrls: [shop.url],
      follow: ($) => $('nav.categories a').map((_, a) => $(a).attr('href')).get(),
      extract: ($, page) => {
        if (page.url.endsWith('/c/limpeza')) throw new Error('layout changed');
        return $('li.product')
          .map((_, li) => ({ sku: $(li).attr('data-sku'), status: page.status }))
          .get();
      },
      // No `_url` in a strict schema: it is not added.
      schema: z.strictObject({ sku: z.string(), status: z.number() }),
      limits: FAST,
    });
    const result = await lake.extract([source]);
    expect(result.status).toBe('success');
    const [counts] = await lake.query(`select count(*) n, count(distinct sku) d, min(status) s from ${bronze(lake)}`);
    // First pages only (pagination is not followed): mercearia 10, bebidas 10, padaria 2 (no price
    // read, so the cut card passes); limpeza threw.
    expect(counts).toEqual({ n: 22, d: 22, s: 200 });
    const reasons = quarantine(lake, result.runId).map((l) => [l.url?.replace(shop.url, ''), l.reasons[0]!.message]);
    expect(reasons).toContainEqual(['/c/limpeza', 'extract failed: layout changed']);
    expect(reasons).toHaveLength(4); // + the 404, the empty page and the redirect loop
  });

  it('stays on the start origins unless followExternal, and stops at maxPages', async () => {
    const other = await otherOrigin();
    const shop = await site({ externalLinks: [`${other.url}/parceiros`] });
    const lake = await tempLake();
    const schema = z.object({ sku: z.string() });
    const extract = { items: 'li.product', fields: { sku: { attr: 'data-sku' } } };

    const capped = await lake.extract([htmlSource({ source: 'shop', dataset: 'products', startUrls: [shop.url], follow: 'nav.categories a', extract, schema, maxPages: 3, limits: FAST })]);
    expect(capped.sources[0]).toMatchObject({ status: 'success', requests: 3 });
    expect(capped.sources[0]!.warnings).toEqual([expect.stringMatching(/stopped at maxPages \(3\); \d+ links found were not crawled/)]);
    expect(savedCursor(lake)).toMatchObject({ finished: true, pages: 3 });

    const external = await lake.extract([
      htmlSource({ source: 'shop', dataset: 'products', startUrls: [shop.url], follow: 'nav.categories a', followExternal: true, extract, schema, limits: FAST }),
    ]);
    expect(external.status).toBe('success');
    expect(other.hits()).toBe(1);
  });

  it('reads a product page as one record with every parse kind', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><base href="/loja/"></head><body>
        <div class="produto" data-sku="MER-007" data-estoque="1.200">
          <h1>  Leite Condensado
             Moça 12x395g </h1>
          <span class="preco">R$&nbsp;89,90</span> <span class="peso">4,74</span>
          <a class="img" href="img/moca.jpg">foto</a> <span class="vendidos">mais de 1,5 mil</span>
        </div></body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'shop',
        dataset: 'product_pages',
        startUrls: [`${base}/p/mer-007`],
        extract: {
          fields: {
            sku: { selector: '.produto', attr: 'data-sku' },
            stock: { selector: '.produto', attr: 'data-estoque', parse: 'int' },
            name: 'h1',
            price: { selector: '.preco', parse: 'brl' },
            weight: { selector: '.peso', parse: 'number' },
            image: { selector: 'a.img', attr: 'href', parse: 'url' },
            pack: { selector: 'h1', parse: 'pack' },
            sold: { selector: '.vendidos', parse: (text) => (text.includes('mil') ? 1000 * parseFloat(text.replace(/\D+([\d,]+).*/, '$1').replace(',', '.')) : null) },
            missing: '.nao-existe',
          },
        },
        schema: z.object({
          sku: z.string(),
          stock: z.number().int(),
          name: z.string(),
          price: z.number(),
          weight: z.number(),
          image: z.string(),
          pack: z.object({ packQty: z.number(), unit: z.string(), netAmount: z.number() }),
          sold: z.number(),
          missing: z.string().optional(),
          _url: z.string(),
        }),
        limits: FAST,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
    const rows = await lake.query(`select * exclude (_run_id, _extracted_at, year, month, day) from read_parquet('${lake.paths.bronze}/shop/product_pages/**/*.parquet', hive_partitioning = true)`);
    expect(rows).toEqual([
      {
        sku: 'MER-007',
        stock: 1200,
        name: 'Leite Condensado Moça 12x395g',
        price: 89.9,
        weight: 4.74,
        image: `${base}/loja/img/moca.jpg`, // against <base href>
        pack: { packQty: 12, unit: 'kg', netAmount: 4.74 },
        sold: 1500,
        missing: null,
        _url: `${base}/p/mer-007`,
      },
    ]);
  });

  it('stops when the site stops answering (503 after every retry) and the next run carries on from there', async () => {
    let down = true;
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/b' && down) {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end('manutenção');
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      if (req.url === '/') return res.end('<html><body><a href="/a">A</a> <a href="/b">B</a> <a href="/c">C</a></body></html>');
      res.end(`<html><body><ul><li class="product" data-sku="${req.url!.slice(1)}-1">x</li><li class="product" data-sku="${req.url!.slice(1)}-2">y</li></ul></body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const source = skuCrawl(base, { schema: z.object({ sku: z.string(), _url: z.string() }), limits: { ...FAST, inFlight: 1, retries: 2 } });
    const first = await lake.extract([source]);
    // /a was read and is committed with the frontier; /b failed three times; /c was never reached.
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 2, rejected: 0, error: expect.stringMatching(/\/b: HTTP 503/) });
    expect(savedCursor(lake)).toMatchObject({ visited: [`${base}/`, `${base}/a`], queue: [{ url: `${base}/b`, from: `${base}/` }, { url: `${base}/c`, from: `${base}/` }] });

    down = false;
    hits.length = 0;
    const second = await lake.extract([source]);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 4 });
    expect(hits).toEqual(['/b', '/c']);
    const rows = await lake.query(`select sku, _url from ${bronze(lake)} order by sku`);
    expect(rows.map((r) => r.sku)).toEqual(['a-1', 'a-2', 'b-1', 'b-2', 'c-1', 'c-2']);
  });

  it('checks its options at the door and its selectors before the first request', async () => {
    const base = { source: 'shop', dataset: 'products', schema: z.object({ sku: z.string() }), extract: { items: 'li', fields: { sku: 'b' } } };
    expect(() => htmlSource({ ...base, startUrls: ['ftp://loja.example/'] })).toThrow(ConfigError);
    expect(() => htmlSource({ ...base, startUrls: [] })).toThrow(/startUrls/);
    expect(() => htmlSource({ ...base, startUrls: ['https://loja.example/'], extract: { items: 'li', fields: { sku: { parse: 'reais' } } } } as never)).toThrow(
      /extract/,
    );
    const shop = await site();
    const lake = await tempLake();
    const result = await lake.extract([htmlSource({ ...base, startUrls: [shop.url], extract: { items: 'li', fields: { sku: 'a[' } } })]);
    expect(result.sources[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/option "extract.fields.sku" is not a valid CSS selector \(got "a\["\)/) });
    expect(shop.requests).toEqual([]);
  });

  it('normalizes links: absolute, no fragment, sorted parameters, http(s) only', () => {
    const page = 'https://loja.example/c/bebidas?page=1';
    expect(normalizeCrawlUrl('?sort=relevancia&page=2#lista', page)).toBe('https://loja.example/c/bebidas?page=2&sort=relevancia');
    expect(normalizeCrawlUrl('../p/beb-001', page)).toBe('https://loja.example/p/beb-001');
    expect(normalizeCrawlUrl('HTTPS://LOJA.example:443/c/x#', page)).toBe('https://loja.example/c/x');
    expect(normalizeCrawlUrl('//cdn.example/x.html', page)).toBe('https://cdn.example/x.html');
    expect(normalizeCrawlUrl('mailto:sac@loja.example', page)).toBeUndefined();
    expect(normalizeCrawlUrl('javascript:void(0)', page)).toBeUndefined();
    expect(normalizeCrawlUrl('http://[bad', page)).toBeUndefined();
  });
});

describe('the frontier a commit saves', () => {
  it('is the crawl as it was at the checkpoint of the commit\'s last page, not pages read since (a redirect\'s queued target, the page the site failed on)', async () => {
    let down = true;
    const hits: string[] = [];
    const links: Record<string, string[]> = { '/': ['/a', '/r', '/b', '/c'], '/a': ['/d'], '/b': ['/e'] };
    const server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/r') {
        res.writeHead(301, { location: '/c' });
        return res.end();
      }
      if (req.url === '/e' && down) {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end('manutenção');
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const anchors = (links[req.url!] ?? []).map((l) => `<a href="${l}">${l}</a>`).join('');
      res.end(`<html><body><li class="product" data-sku="${req.url}">x</li>${anchors}</body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const source = skuCrawl(base, { limits: { ...FAST, inFlight: 1, retries: 1, flushRows: 2 } });
    const first = await lake.extract([source]);
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 5, error: expect.stringMatching(/\/e: HTTP 503/) });
    const frontier = (cursor: { visited: string[]; queue: { url: string }[]; pages: number }) => ({
      visited: cursor.visited.map((u) => u.replace(base, '')),
      queue: cursor.queue.map((e) => e.url.replace(base, '')),
      pages: cursor.pages,
    });
    // Pages are read /, /a, /r (landing on /c, queued: it leaves the queue then), /b, /d; /e fails.
    const batches = await lake.metrics.select(`SELECT rows, cursor::VARCHAR AS cursor FROM source_batches WHERE run_id = '${first.runId}' ORDER BY batch_no`);
    expect(batches.map((b) => ({ rows: Number(b.rows), ...frontier(JSON.parse(String(b.cursor))) }))).toEqual([
      { rows: 2, visited: ['/', '/a'], queue: ['/r', '/b', '/c', '/d'], pages: 2 },
      { rows: 2, visited: ['/', '/a', '/r', '/c', '/b'], queue: ['/d', '/e'], pages: 4 },
      // The last batch, committed after /e failed: its frontier is /d's, with /e still to read.
      { rows: 1, visited: ['/', '/a', '/r', '/c', '/b', '/d'], queue: ['/e'], pages: 5 },
    ]);
    expect(frontier(savedCursor(lake))).toEqual(frontier(JSON.parse(String(batches[2]!.cursor))));

    down = false;
    hits.length = 0;
    const second = await lake.extract([source]);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(hits).toEqual(['/e']);
    const rows = await lake.query(`select sku from ${bronze(lake)} order by sku`);
    expect(rows.map((r) => r.sku)).toEqual(['/', '/a', '/b', '/c', '/d', '/e']);
  });

  it.each([
    ['plain links', ''],
    ['links holding a session id (redacted in what source_batches stores, not in the state file)', '?PHPSESSID=s3ss10nAbc123'],
  ])('over 16 KB is recorded in source_batches as the size of the cursor data/state/cursors holds: %s', async (_what, query) => {
    // The home page links 400 products, each page one record; /p/3 stays down: the state file keeps the last batch's frontier.
    const server = http.createServer((req, res) => {
      if (req.url!.startsWith('/p/3?') || req.url === '/p/3') {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end('manutenção');
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const anchors = req.url === '/' ? Array.from({ length: 400 }, (_, i) => `<a href="/p/${i + 1}${query}">p</a>`).join('') : '';
      res.end(`<html><body><li class="product" data-sku="${req.url}">x</li>${anchors}</body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const first = await lake.extract([skuCrawl(base, { limits: { ...FAST, inFlight: 1, retries: 1, flushRows: 2 } })]);
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 3 });
    const batches = await lake.metrics.select(`SELECT rows, cursor::VARCHAR AS cursor FROM source_batches WHERE run_id = $1 ORDER BY batch_no`, [first.runId]);
    const saved = stringifyJsonExact(savedCursor(lake));
    expect(Buffer.byteLength(saved)).toBeGreaterThan(MAX_RECORDED_CURSOR_BYTES);
    const omitted = { omitted: 'larger than 16 KB: state/cursors/shop.products.json holds the current one', bytes: expect.any(Number) };
    expect(batches.map((b) => ({ rows: Number(b.rows), cursor: JSON.parse(String(b.cursor)) }))).toEqual([
      { rows: 2, cursor: omitted },
      { rows: 1, cursor: { ...omitted, bytes: Buffer.byteLength(saved) } },
    ]);
  });

  it('a page\'s checkpoint the lake drops (the run stopped on its records) leaves the one before: with the redirect\'s target still queued', async () => {
    const links: Record<string, string[]> = { '/': ['/a', '/r', '/b', '/c'], '/a': ['/d'] };
    const server = http.createServer((req, res) => {
      if (req.url === '/r') {
        res.writeHead(301, { location: '/c' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const anchors = (links[req.url!] ?? []).map((l) => `<a href="${l}">${l}</a>`).join('');
      res.end(`<html><body><li class="product" data-sku="${req.url}">x</li>${anchors}</body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const stop = new AbortController();
    const source = (stopAt?: string) =>
      htmlSource({
        source: 'shop',
        dataset: 'products',
        startUrls: [`${base}/`],
        follow: 'a',
        extract: ($, page) => {
          // The run is stopped while /r (landing on /c, which was queued) is read: its records and its checkpoint are dropped.
          if (page.url === stopAt) stop.abort(new Error('stopped'));
          return $('li.product').toArray().map((el) => ({ sku: $(el).attr('data-sku') }));
        },
        schema: z.object({ sku: z.string() }),
        limits: { ...FAST, inFlight: 1 },
      });
    const first = await lake.extract([source(`${base}/c`)], { signal: stop.signal });
    expect(first.sources[0]).toMatchObject({ rows: 2, error: expect.stringMatching(/stopped/) });
    const cursor = savedCursor(lake) as { visited: string[]; queue: { url: string }[]; pages: number };
    expect({ visited: cursor.visited, queue: cursor.queue.map((e) => e.url), pages: cursor.pages }).toEqual({
      visited: [`${base}/`, `${base}/a`],
      queue: [`${base}/r`, `${base}/b`, `${base}/c`, `${base}/d`],
      pages: 2,
    });

    const second = await lake.extract([source()]);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    const rows = await lake.query(`select sku from ${bronze(lake)} order by sku`);
    expect(rows.map((r) => r.sku)).toEqual(['/', '/a', '/b', '/c', '/d']);
  });
});

describe('a killed crawl resumes where its last commit left it', () => {
  /**
   * The child crawls with `flushRows: 1` (each page with products is its own commit) until the
   * site stops answering at `frozenPage`; it is killed there, and this process crawls again.
   */
  async function killAndResume(options: { inFlight: number; frozenPage: string; committedBeforeKill?: string }) {
    const shop = await site();
    const first = await tempLake();
    const root = first.paths.root;
    await first.close();
    shop.freezeAt(options.frozenPage);
    const child = spawnCrawl({ root, baseUrl: shop.url, inFlight: options.inFlight, flushRows: 1 });
    const cursorFile = path.join(root, 'state', 'cursors', 'shop.products.store=exemplo.json');
    const visitedNow = (): string[] => {
      try {
        return (JSON.parse(fs.readFileSync(cursorFile, 'utf8')) as { cursor: { visited?: string[] } }).cursor.visited ?? [];
      } catch {
        return [];
      }
    };
    const deadline = Date.now() + 30_000;
    const ready = (): boolean => shop.frozen && (options.committedBeforeKill === undefined || visitedNow().includes(`${shop.url}${options.committedBeforeKill}`));
    while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ready()).toBe(true);
    // Pages still arriving commit within a few ms; with several in flight, let them land.
    await new Promise((r) => setTimeout(r, options.inFlight > 1 ? 500 : 50));
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const run1 = requestedByCrawler(shop.counts());
    shop.thaw();

    // Reopening marks the dead run abandoned (and would roll forward a commit it left half-done).
    const lake = await tempLake({ root });
    const committed = new Set<string>((savedCursor(lake, 'shop.products.store=exemplo')?.visited ?? []) as string[]);
    const [before] = await lake.query(`select count(*) n from ${bronze(lake)}`);
    expect(before!.n as number).toBeGreaterThan(0);

    const rerun = await lake.extract([shopSiteSource({ baseUrl: shop.url, inFlight: options.inFlight, flushRows: 1 })]);
    expect(rerun.sources[0]).toMatchObject({ status: 'success', rows: shopSiteReadableProducts().length - (before!.n as number) });
    const [counts] = await lake.query(`select count(*) n, count(distinct sku) d, count(distinct _run_id) runs from ${bronze(lake)}`);
    expect(counts).toEqual({ n: shopSiteReadableProducts().length, d: shopSiteReadableProducts().length, runs: 2 });
    expect((await lake.runs({ limit: 5 })).map((r) => r.status)).toEqual(['success', 'abandoned']);

    const all = requestedByCrawler(shop.counts());
    const run2 = Object.fromEntries(Object.entries(all).map(([p, n]) => [p, n - (run1[p] ?? 0)]).filter(([, n]) => (n as number) > 0));
    // No committed page is fetched again.
    for (const p of Object.keys(run2)) expect(committed.has(`${shop.url}${p}`), p).toBe(false);
    // Rows of the killed run come from committed pages only, the rerun's from the others.
    const origins = await lake.query<{ _url: string; rerun: boolean }>(`select distinct _url, _run_id = '${rerun.runId}' as rerun from ${bronze(lake)}`);
    for (const o of origins) expect(committed.has(o._url), o._url).toBe(!o.rerun);
    // Quarantine entries are committed with their page's frontier: each faulty page is recorded once in all.
    const dir = path.join(root, 'quarantine', 'shop', 'products');
    const faulty = fs.readdirSync(dir).flatMap((f) => quarantine(lake, f.replace(/\.ndjson$/, '')));
    expect(faulty.map((l) => (l.url ?? String(l.record.sku)).replace(shop.url, '')).sort()).toEqual(['/c/congelados', '/c/hortifruti', '/ofertas-relampago', 'PAD-002']);
    return { run1, run2, committed, shop };
  }

  it('one page at a time: everything once, and only the page in flight at the kill is fetched again', async () => {
    // Crawl order: /, the 6 categories, /ofertas-relampago, /ofertas, mercearia p2, mercearia p3, bebidas p2.
    const frozenPage = listingPath('mercearia', 3);
    const { run1, run2 } = await killAndResume({ inFlight: 1, frozenPage, committedBeforeKill: listingPath('mercearia', 2) });
    const twice = Object.keys(run2).filter((p) => (run1[p] ?? 0) > 0);
    expect(twice).toEqual([frozenPage]);
    expect(Object.keys(run2).sort()).toEqual([listingPath('bebidas', 2), frozenPage].sort());
  }, 60_000);

  it('four pages at a time: everything once, and pages fetched again are only those the kill left uncommitted', async () => {
    const { run1, run2, committed, shop } = await killAndResume({ inFlight: 4, frozenPage: listingPath('mercearia', 2) });
    const twice = Object.keys(run2).filter((p) => (run1[p] ?? 0) > 0);
    expect(twice.length).toBeGreaterThan(0);
    for (const p of twice) expect(committed.has(`${shop.url}${p}`)).toBe(false);
    // At most the pages in flight (4) plus pages without products waiting for the next commit.
    expect(twice.length).toBeLessThanOrEqual(8);
  }, 60_000);
});

describe('htmlSource: a page with 80,000 links (a sitemap-like listing)', () => {
  it('queues every link once, in the page\'s order (following them took minutes: quadratic in the links of a page)', async () => {
    const links = 80_000;
    // One link without href, and one twice: neither is queued more than once.
    const hub = `<html><body><a class="p">none</a>${Array.from({ length: links }, (_, i) => `<a class="p" href="/p/${i}">p${i}</a>`).join('')}<a class="p" href="/p/0">again</a></body></html>`;
    const fetched: string[] = [];
    const server = http.createServer((req, res) => {
      fetched.push(req.url!);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(req.url === '/' ? hub : `<html><body><li class="product" data-sku="${req.url!.slice(3)}">x</li></body></html>`);
    });
    const base = await listen(server);
    const lake = await tempLake();
    const result = await lake.extract([skuCrawl(base, { follow: 'a.p', maxPages: 3, limits: { ...FAST, inFlight: 1 } })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(fetched).toEqual(['/', '/p/0', '/p/1']);
    expect(result.sources[0]!.warnings).toEqual([`shop/products: stopped at maxPages (3); ${links - 2} links found were not crawled`]);
  });
});
