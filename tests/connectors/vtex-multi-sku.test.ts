/**
 * vtexCatalog against the shapes of the real VTEX catalog search API that the fixture catalog
 * never produces: products with several SKUs (items), whose first SKU may be out of stock.
 *
 * The real search filters (`fq=P:[a TO b]`) and sorts (`O=OrderByPriceDESC`) a product by the
 * price it sells at — an available offer's `Price` — not by `items[0]`'s: an out-of-stock SKU
 * answers `Price: 0`, `AvailableQuantity: 0`, `IsAvailable: false`, and a product whose first
 * SKU (a size, a flavour) is sold out still sells its others. The small server below follows
 * the API rules the fixture server enforces (windows of at most 50, `_to` < 2,500, `resources`
 * header, 206 while more remain) over such products.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { vtexCatalog } from '../../src/connectors/vtex/catalog.js';
import { tempLake } from '../helpers/temp-lake.js';

const fast = { requestsPerSecond: 1000, burst: 100, backoffBaseMillis: 5 };

interface Offer {
  Price: number;
  ListPrice: number;
  AvailableQuantity: number;
  IsAvailable: boolean;
}
interface Product {
  productId: string;
  productName: string;
  categoryId: string;
  categories: string[];
  categoriesIds: string[];
  items: { itemId: string; name: string; ean: string; measurementUnit: string; unitMultiplier: number; sellers: { sellerId: string; sellerName: string; sellerDefault: boolean; commertialOffer: Offer }[] }[];
}

const offer = (price: number): Offer =>
  price > 0 ? { Price: price, ListPrice: price, AvailableQuantity: 10, IsAvailable: true } : { Price: 0, ListPrice: 0, AvailableQuantity: 0, IsAvailable: false };

function product(id: number, prices: number[]): Product {
  return {
    productId: String(id),
    productName: `Produto ${id}`,
    categoryId: '1',
    categories: ['/Mercearia/'],
    categoriesIds: ['/1/'],
    items: prices.map((p, k) => ({
      itemId: String(id * 10 + k),
      name: `Produto ${id} sku ${k}`,
      ean: '',
      measurementUnit: 'un',
      unitMultiplier: 1,
      sellers: [{ sellerId: '1', sellerName: 'Loja', sellerDefault: true, commertialOffer: offer(p) }],
    })),
  };
}

/** The price the search knows a product by: its best available offer (none: 0). */
function searchPrice(p: Product): number {
  const available = p.items.flatMap((i) => i.sellers.map((s) => s.commertialOffer)).filter((o) => o.IsAvailable && o.Price > 0);
  return available.length === 0 ? 0 : Math.min(...available.map((o) => o.Price));
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

interface ServerOptions {
  /** The category tree (default: one department, Mercearia, id 1). */
  tree?: unknown[];
  /** Called with each search's parameters before it is answered (the catalog may change mid-crawl). */
  onSearch?: (q: URLSearchParams) => void;
}

async function startServer(products: Product[], options: ServerOptions = {}): Promise<{ url: string; log: URLSearchParams[] }> {
  const log: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    if (url.pathname.startsWith('/api/catalog_system/pub/category/tree/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(options.tree ?? [{ id: 1, name: 'Mercearia', hasChildren: false, children: [] }]));
    }
    if (url.pathname !== '/api/catalog_system/pub/products/search') return text(404, 'no route');
    const q = url.searchParams;
    log.push(new URLSearchParams(q));
    options.onSearch?.(q);
    const from = Number(q.get('_from') ?? 0);
    const to = Number(q.get('_to') ?? from + 9);
    if (to - from + 1 > 50) return text(400, 'The maximum number of items per request is 50');
    if (to >= 2500) return text(400, "Parameter _to can't be greater than 2499");
    let matched = products.filter((p) =>
      q.getAll('fq').every((fq) => {
        if (fq.startsWith('C:')) return p.categoriesIds.includes(fq.slice(2));
        const m = /^P:\[(\S+) TO (\S+)\]$/.exec(fq);
        if (!m) throw new Error(`unexpected fq ${fq}`);
        const v = searchPrice(p);
        return v >= Number(m[1]) && v <= Number(m[2]);
      }),
    );
    const order = q.get('O');
    if (order === 'OrderByPriceASC') matched = [...matched].sort((a, b) => searchPrice(a) - searchPrice(b) || Number(a.productId) - Number(b.productId));
    if (order === 'OrderByPriceDESC') matched = [...matched].sort((a, b) => searchPrice(b) - searchPrice(a) || Number(a.productId) - Number(b.productId));
    const page = matched.slice(from, to + 1);
    res.writeHead(to < matched.length - 1 ? 206 : 200, { 'content-type': 'application/json', resources: `${from}-${to}/${matched.length}` });
    res.end(JSON.stringify(page));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

describe('vtexCatalog: products with several SKUs, the first one sold out', () => {
  it('splits a category over 2,500 by price up to the dearest product\'s highest offer, not its first SKU\'s Price 0, and reads every product', async () => {
    // 2,600 products at 400 different prices (R$ 1,00 to R$ 40,90): a price split fits easily.
    const products = Array.from({ length: 2_600 }, (_, i) => product(i + 1, [1 + (i % 400) / 10]));
    // The dearest product sells its second SKU at R$ 99,90; its first SKU is out of stock (Price 0).
    products.push(product(9_999, [0, 99.9]));
    const server = await startServer(products);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'loja', baseUrl: server.url })]);
    const source = result.sources[0]!;
    const [row] = await lake.query(`select count(distinct productId) as d from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet')`);
    // Every product was reachable by price ranges: none is missing and none is reported unreachable
    // (they do not "share one price").
    expect({ products: row!.d, warnings: source.warnings ?? [] }).toEqual({ products: products.length, warnings: [] });
  }, 120_000);
});

describe('vtexCatalog: prices with more than two decimals', () => {
  it('reads a product sold by weight whose Price has three decimals, between two cent-wide price ranges', async () => {
    // 2,600 products at 400 prices (R$ 1,00 to R$ 40,90): split at R$ 20,45 into two ranges.
    const products = Array.from({ length: 2_600 }, (_, i) => product(i + 1, [1 + (i % 400) / 10]));
    // Sold by weight: the search prices one unit of unitMultiplier (0.25 kg at R$ 81,82/kg), three
    // decimals (VTEX does not round it), between R$ 20,45 and R$ 20,46.
    const weighed = product(9_998, [20.455]);
    weighed.items[0]!.measurementUnit = 'kg';
    weighed.items[0]!.unitMultiplier = 0.25;
    products.push(weighed);
    const server = await startServer(products);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'loja', baseUrl: server.url })]);
    expect(server.log.some((q) => q.getAll('fq').some((f) => f.startsWith('P:')))).toBe(true);
    const [row] = await lake.query(`select count(distinct productId) as d, count(*) filter (where productId = '9998') as weighed from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet')`);
    expect({ ...row, warnings: result.sources[0]!.warnings ?? [] }).toEqual({ d: products.length, weighed: 1, warnings: [] });
  }, 120_000);
});

describe('vtexCatalog: a catalog that changes during the crawl', () => {
  it('reads a product whose price drops, mid-crawl, into a price range already read', async () => {
    // 2,600 products at 400 prices (R$ 1,00 to R$ 40,90): the category is split by price.
    const products = Array.from({ length: 2_600 }, (_, i) => product(i + 1, [1 + (i % 400) / 10]));
    // The dearest product, at R$ 50,00, sits in the upper range; it goes on sale at R$ 1,00 the
    // moment the upper range is first asked for, after the lower range was read.
    const mover = product(9_999, [50]);
    products.push(mover);
    let moved = false;
    const server = await startServer(products, {
      onSearch: (q) => {
        const range = q.getAll('fq').map((f) => /^P:\[(\S+) TO/.exec(f)).find(Boolean);
        if (!moved && range && Number(range[1]) > 0) {
          moved = true;
          mover.items[0]!.sellers[0]!.commertialOffer = offer(1);
        }
      },
    });
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'loja', baseUrl: server.url })]);
    expect(moved).toBe(true);
    expect(result.sources[0]!.status).toBe('success');
    const rows = await lake.query(`select productId from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet') where productId = '9999'`);
    const [count] = await lake.query(`select count(*) as n, count(distinct productId) as d from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet')`);
    expect({ mover: rows.length, ...count }).toEqual({ mover: 1, n: products.length, d: products.length });
  }, 120_000);
});

describe('vtexCatalog: the categories option', () => {
  it('refuses a category name found in several places of the tree, naming their paths', async () => {
    const tree = [
      { id: 1, name: 'Bebidas', children: [{ id: 11, name: 'Vinhos', children: [] }] },
      { id: 2, name: 'Presentes', children: [{ id: 21, name: 'Vinhos', children: [] }] },
    ];
    const products = [
      { ...product(1, [10]), categoriesIds: ['/1/11/', '/1/'] },
      { ...product(2, [20]), categoriesIds: ['/2/21/', '/2/'] },
    ];
    const server = await startServer(products, { tree });
    const lake = await tempLake({ limits: fast });
    const ambiguous = await lake.extract([vtexCatalog({ store: 'loja', baseUrl: server.url, categories: ['Vinhos'] })]);
    expect(ambiguous.sources[0]!.status).toBe('failed');
    expect(ambiguous.sources[0]!.error).toMatch(/"Vinhos".*Bebidas\/Vinhos.*Presentes\/Vinhos/);
    // A path names one of them.
    const one = await lake.extract([vtexCatalog({ store: 'loja', baseUrl: server.url, categories: ['Presentes/Vinhos'] })]);
    expect(one.sources[0]).toMatchObject({ status: 'success', rows: 1 });
  });
});
