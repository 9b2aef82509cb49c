import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { vtexCatalog } from '../../src/connectors/vtex/catalog.js';
import { mercadoLivreOrders } from '../../src/index.js';
import { buildVtexCatalog, findCategory, isUnder, VTEX_BIG_CATEGORY, type VtexCatalog } from '../../examples/fixtures/vtex/catalog.js';
import { startVtexServer, type VtexServer } from '../../examples/fixtures/vtex/server.js';
import { buildMercadoLivreData } from '../../examples/fixtures/mercadolivre/data.js';
import { startMercadoLivreServer } from '../../examples/fixtures/mercadolivre/server.js';
import { registerCleanup, tempLake } from '../helpers/temp-lake.js';

const servers: VtexServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };

/** bistek with five wines registered on "Bebidas/Vinhos" itself, on no subcategory (VTEX allows any level). */
function catalogWithDirectWines(): { catalog: VtexCatalog; wines: number } {
  const catalog = buildVtexCatalog({ stores: ['bistek'] });
  const store = catalog.stores.bistek!;
  const wine = findCategory(store, VTEX_BIG_CATEGORY)!;
  const wines = store.products.filter((p) => isUnder(p, wine.ids));
  expect(wines.length).toBeGreaterThan(2500);
  for (const p of wines.slice(0, 5)) {
    p.categoryIds = [...wine.ids];
    p.categoryNames = [...wine.names];
  }
  return { catalog, wines: wines.length };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  registerCleanup(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A CDN in front of the store that strips the custom `resources` header; status codes stay. */
async function stripResources(target: string): Promise<string> {
  const proxy = http.createServer((req, res) => {
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: { accept: 'application/json' } }, (answer) => {
      const headers = { ...answer.headers };
      delete headers.resources;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end();
  });
  return listen(proxy);
}

describe('vtexCatalog: products registered on a category that is split by subcategory', () => {
  it('reads the products that sit directly on a split category, not only its subcategories', async () => {
    const { catalog, wines } = catalogWithDirectWines();
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'bistek', baseUrl: server.baseUrlFor('bistek'), categories: ['Bebidas/Vinhos'] })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: wines });
    expect(result.sources[0]!.warnings ?? []).toEqual([]);
    const [row] = await lake.query(`select count(*) as n, count(distinct productId) as d from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet')`);
    expect(row).toEqual({ n: wines, d: wines });
    expect(Object.keys(server.stats().byStatus).sort()).toEqual(['200', '206']); // nothing refused
  }, 120_000);

  it('costs no extra request when the subcategories hold every product of the category', async () => {
    const catalog = buildVtexCatalog({ stores: ['bistek'] });
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const store = catalog.stores.bistek!;
    const wines = store.products.filter((p) => isUnder(p, findCategory(store, VTEX_BIG_CATEGORY)!.ids)).length;
    const result = await lake.extract([vtexCatalog({ store: 'bistek', baseUrl: server.baseUrlFor('bistek'), categories: ['Bebidas/Vinhos'] })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: wines });
    // Only the price probes of the split (O=OrderByPriceDESC) ask for one product: the totals came from the queries that ran.
    const probes = server.log.filter((l) => l.path.includes('/products/search')).map((l) => new URLSearchParams(l.query)).filter((q) => q.get('_to') === '0');
    expect(probes.every((q) => q.get('O') === 'OrderByPriceDESC')).toBe(true);
  }, 120_000);

  it('reads them too behind a CDN that strips the resources header (totals unknown), with a warning', async () => {
    const { catalog, wines } = catalogWithDirectWines();
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const base = await stripResources(server.baseUrlFor('bistek'));
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'bistek', baseUrl: base, categories: ['Bebidas/Vinhos'] })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: wines });
    expect(result.sources[0]!.warnings).toEqual([expect.stringMatching(/no resources header .*the total was unknown/)]);
    expect(Object.keys(server.stats().byStatus).sort()).toEqual(['200', '206']);
  }, 120_000);
});

describe('vtexCatalog without a resources header', () => {
  it('reads the catalog past its first window while the answer is 206, and warns that the total was unknown', async () => {
    const products = Array.from({ length: 120 }, (_, i) => ({ productId: String(i + 1), productName: `P${i + 1}`, items: [] }));
    const server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname.includes('/category/tree/')) return res.end(JSON.stringify([{ id: 1, name: 'Mercearia', children: [] }]));
      const from = Number(url.searchParams.get('_from'));
      const to = Number(url.searchParams.get('_to'));
      res.statusCode = to < products.length - 1 ? 206 : 200;
      res.end(JSON.stringify(products.slice(from, to + 1)));
    });
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'x', baseUrl: await listen(server) })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 120 });
    expect(result.sources[0]!.warnings).toEqual([expect.stringMatching(/vtex x: the API sent no resources header for 1 search \(first: Mercearia\): the total was unknown/)]);
  });

  it('keeps reading while windows come back full even when every answer is 200', async () => {
    const products = Array.from({ length: 100 }, (_, i) => ({ productId: String(i + 1), productName: `P${i + 1}`, items: [] }));
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname.includes('/category/tree/')) return res.end(JSON.stringify([{ id: 1, name: 'Mercearia', children: [] }]));
      const from = Number(url.searchParams.get('_from'));
      const to = Number(url.searchParams.get('_to'));
      asked.push(`${from}-${to}`);
      res.end(JSON.stringify(products.slice(from, to + 1)));
    });
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'x', baseUrl: await listen(server) })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 100 });
    expect(asked).toEqual(['0-49', '50-99', '100-149']); // the empty window ends it
  });
});

describe('mercadoLivreOrders: an offset cap that is not a multiple of the page size', () => {
  const SECRET = 'client-secret-abcdef123';
  const REFRESH = 'TG-initial-refresh-token-0001';
  async function setup(offsetCap: number) {
    const data = buildMercadoLivreData({ orders: 600, items: 60, days: 30 });
    const server = await startMercadoLivreServer({ data, clientId: 'app-1', clientSecret: SECRET, initialRefreshToken: REFRESH, offsetCap });
    registerCleanup(() => server.close());
    return { data, server, common: { baseUrl: server.url, auth: { clientId: 'app-1', clientSecret: SECRET, refreshToken: REFRESH }, offsetCap } };
  }
  const pagesAsked = (server: { requests: readonly { path: string; url: string }[] }) =>
    server.requests.filter((r) => r.path.endsWith('/orders/search')).map((r) => new URL(r.url, 'http://x').searchParams).map((q) => Number(q.get('offset')) + Number(q.get('limit')));

  it('never asks past the cap (offset + limit ≤ cap) and lands every order', async () => {
    const { data, server, common } = await setup(120);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })]);
    expect(server.requests.filter((r) => r.status === 400)).toEqual([]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length });
    expect(Math.max(...pagesAsked(server))).toBeLessThanOrEqual(120);
    const [row] = await lake.query(`select count(*) n, count(distinct id) d from read_parquet('${lake.paths.bronze}/mercadolivre/orders/**/*.parquet')`);
    expect(row).toEqual({ n: data.orders.length, d: data.orders.length });
  }, 60_000);

  it('last: N up to the cap shrinks the last page instead of stopping short; past the cap it warns', async () => {
    const { data, server, common } = await setup(120);
    const lake = await tempLake({ limits: fast });
    const exact = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, last: 120 })]);
    expect(exact.sources[0]).toMatchObject({ status: 'success', rows: 120 });
    expect(exact.sources[0]!.warnings ?? []).toEqual([]);
    const more = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, last: 130 })]);
    expect(more.sources[0]).toMatchObject({ status: 'success', rows: 120 });
    expect(more.sources[0]!.warnings).toEqual([expect.stringMatching(/last 130 asked, the API stops at 120/)]);
    expect(server.requests.filter((r) => r.status === 400)).toEqual([]);
  }, 60_000);
});
