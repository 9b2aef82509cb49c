import { afterEach, describe, expect, it } from 'vitest';
import { vtexCatalog } from '../../src/connectors/vtex/catalog.js';
import { buildVtexCatalog, VTEX_BIG_CATEGORY } from '../../examples/fixtures/vtex/catalog.js';
import { startVtexServer, type VtexServer } from '../../examples/fixtures/vtex/server.js';
import { tempLake } from '../helpers/temp-lake.js';

const servers: VtexServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };

describe('vtexCatalog against a server that enforces the API rules', () => {
  it('reads every product of three stores, splitting a category and a subcategory over 2,500, and reports the unreachable ones', async () => {
    const catalog = buildVtexCatalog({ samePriceCount: 2600 });
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract(catalog.storeNames.map((store) => vtexCatalog({ store, baseUrl: server.baseUrlFor(store) })));
    expect(result.status).toBe('success');
    // The server refused nothing: every window ≤ 50, no index past 2,500.
    const stats = server.stats();
    expect(Object.keys(stats.byStatus).sort()).toEqual(['200', '206']);
    const perStore = await lake.query(
      `select store, count(*) as n, count(distinct productId) as d from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet', hive_partitioning = true) group by store order by store`,
    );
    const expected = Object.fromEntries(catalog.storeNames.map((s) => [s, catalog.stores[s]!.products.length]));
    // 2,600 products share one price in bistek: 100 cannot be reached, and say so.
    expect(perStore).toEqual([
      { store: 'bistek', n: expected.bistek! - 100, d: expected.bistek! - 100 },
      { store: 'fort', n: expected.fort, d: expected.fort },
      { store: 'giassi', n: expected.giassi, d: expected.giassi },
    ]);
    const bistek = result.sources.find((s) => s.rows === expected.bistek! - 100)!;
    expect(bistek.warnings).toEqual([expect.stringMatching(/100 products of .* cannot be reached \(2600 share one price/)]);
    // The big category (over 2,500 products) was split and read completely.
    const [wine] = await lake.query(
      `select count(*) as n from read_parquet('${lake.paths.bronze}/vtex/products/store=bistek/**/*.parquet') where categories[-1] = '/${VTEX_BIG_CATEGORY[0]}/'`,
    );
    expect(wine!.n as number).toBeGreaterThan(2500);
  }, 120_000);

  it('partitions by store and region and maps the sales channel to sc', async () => {
    const catalog = buildVtexCatalog({ stores: ['fort'] });
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'fort', baseUrl: server.baseUrlFor('fort'), salesChannel: 2, categories: ['Bebidas'] })]);
    expect(result.status).toBe('success');
    const searches = server.log.filter((l) => l.path.includes('/products/search'));
    expect(searches.length).toBeGreaterThan(0);
    expect(searches.every((l) => new URLSearchParams(l.query).get('sc') === '2')).toBe(true);
    const [row] = await lake.query(`select distinct store, region from read_parquet('${lake.paths.bronze}/vtex/products/**/*.parquet', hive_partitioning = true)`);
    expect(row).toEqual({ store: 'fort', region: 'sc2' });
  });

  it('retries through 429/503 with Retry-After and still reads everything once', async () => {
    const catalog = buildVtexCatalog({ stores: ['giassi'] });
    const server = await startVtexServer({ catalog, faults: { failEveryNth: 4, status: 429, retryAfterSeconds: 0 } });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const result = await lake.extract([vtexCatalog({ store: 'giassi', baseUrl: server.baseUrlFor('giassi') })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: catalog.stores.giassi!.products.length });
    expect(result.sources[0]!.retries).toBeGreaterThan(5);
  }, 60_000);

  it('quarantines a product without productId with the reason', async () => {
    const http = await import('node:http');
    const server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname.includes('/category/tree/')) return res.end(JSON.stringify([{ id: 1, name: 'Mercearia', children: [] }]));
      res.setHeader('resources', '0-1/2');
      res.end(JSON.stringify([{ productName: 'Sem id', items: [] }, { productId: '7', productName: 'Arroz 5kg', items: [] }]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const lake = await tempLake({ limits: fast });
      const port = (server.address() as { port: number }).port;
      const result = await lake.extract([vtexCatalog({ store: 'x', baseUrl: `http://127.0.0.1:${port}` })]);
      expect(result.sources[0]).toMatchObject({ rows: 1, rejected: 1 });
      const fs = await import('node:fs');
      const [line] = fs.readFileSync(`${lake.paths.quarantine}/vtex/products/${result.runId}.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(line.reasons[0].path).toBe('productId');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('checks its options, naming the field', () => {
    expect(() => vtexCatalog({ store: 'Bad Store', baseUrl: 'http://x' })).toThrow(/option "store"/);
    expect(() => vtexCatalog({ store: 'ok', baseUrl: 'not a url' })).toThrow(/option "baseUrl"/);
    expect(() => vtexCatalog({ store: 'ok', baseUrl: 'http://x', salesChanel: 1 } as never)).toThrow(/unknown option "salesChanel"/);
  });
});

describe('http_stats', () => {
  it('records requests, statuses, bytes and latency per source and host', async () => {
    const catalog = buildVtexCatalog({ stores: ['fort'] });
    const server = await startVtexServer({ catalog });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([vtexCatalog({ store: 'fort', baseUrl: server.baseUrlFor('fort'), categories: ['Bebidas'] })]);
    const [stats] = await lake.metrics.select(`select host, requests, statuses, bytes, latency_ms from http_stats where run_id = $1`, [r.runId]);
    expect(stats!.host).toBe(new URL(server.url).host);
    expect(stats!.requests).toBe(r.sources[0]!.requests);
    expect(Object.keys(JSON.parse(stats!.statuses as string)).sort()).toEqual(['200', '206'].filter((k) => JSON.parse(stats!.statuses as string)[k]));
    expect(stats!.bytes as number).toBeGreaterThan(1000);
  });
});
