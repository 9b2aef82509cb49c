/**
 * `npm run demo`: the main job end to end, offline, on bundled data.
 *
 * 1. Starts loopback servers that speak the APIs we read in production (VTEX catalog search;
 *    Mercado Livre OAuth, orders, items, users, search) over the sample data in examples/fixtures/.
 * 2. Extracts two simulated days of three supermarkets into bronze (prices move between them),
 *    a seller's Mercado Livre orders, items and profile, and a generated e-commerce export (CSV).
 * 3. Builds the models (staging → trusted → marts) and runs their data tests.
 * 4. Prints what landed where, and a taste of the marts.
 *
 * Point it at a real store by changing one line: `baseUrl: 'https://www.bistek.com.br'`.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { Lakehouse, csvSource, generateShopDataset, mercadoLivreItems, mercadoLivreOrders, mercadoLivreSearch, mercadoLivreSeller, vtexCatalog } from '../src/index.js';
import { buildVtexCatalog } from './fixtures/vtex/catalog.js';
import { startVtexServer } from './fixtures/vtex/server.js';
import { buildMercadoLivreData } from './fixtures/mercadolivre/data.js';
import { startMercadoLivreServer } from './fixtures/mercadolivre/server.js';
import { dropOldTokenStores } from './fixtures/mercadolivre/token-stores.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.env.DUCKHOUSE_ROOT ?? 'data');
const started = performance.now();

/** 09:00 in São Paulo, `daysAgo` days before today. */
function morning(daysAgo: number): Date {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Sao_Paulo' }).format(new Date());
  return new Date(Date.parse(`${today}T09:00:00-03:00`) - daysAgo * 86_400_000);
}

const catalog = buildVtexCatalog({ samePriceCount: 2600 });
const vtex = await startVtexServer({ catalog });
// Demo credentials for the loopback Mercado Livre: a real app's come from the environment. The
// loopback server is new on each run, like authorizing the app again: its refresh token is new
// too, so it starts a new token store; the last run's (whose token this server never issued) is
// deleted once this one works (dropOldTokenStores below).
const ml = { clientId: 'demo-app', clientSecret: 'demo-client-secret', refreshToken: `TG-demo-${randomUUID()}` };
const mlData = buildMercadoLivreData();
const mlServer = await startMercadoLivreServer({ data: mlData, clientId: ml.clientId, clientSecret: ml.clientSecret, initialRefreshToken: ml.refreshToken });
const lake = await Lakehouse.open({
  root,
  models: path.join(here, '..', 'models'),
  // The loopback server can take more than a real store's polite 5 requests/s.
  limits: { requestsPerSecond: 200, burst: 20 },
});
try {
  for (const day of [0, 1]) {
    vtex.setDay(day);
    const sources = catalog.storeNames.map((store) => vtexCatalog({ store, baseUrl: vtex.baseUrlFor(store) }));
    const result = await lake.extract(sources, { extractedAt: morning(1 - day) });
    const rows = result.sources.reduce((s, r) => s + r.rows, 0);
    const rejected = result.sources.reduce((s, r) => s + r.rejected, 0);
    console.log(`extract day ${day + 1}: ${result.status}, ${rows} products from ${result.sources.length} stores, ${rejected} rejected (run ${result.runId})`);
    for (const w of result.sources.flatMap((s) => s.warnings ?? [])) console.log(`  warning: ${w}`);
  }

  const mlCommon = { baseUrl: mlServer.url, auth: ml };
  const marketplace = await lake.extract([
    mercadoLivreOrders({ sellerId: mlData.mainSellerId, ...mlCommon, from: mlData.startDate }),
    mercadoLivreSeller({ sellerId: mlData.mainSellerId, ...mlCommon }),
    mercadoLivreSearch({ site: mlData.siteId, category: mlData.categories[0]!.id, ...mlCommon }),
  ]);
  const items = await lake.extract([mercadoLivreItems({ fromOrders: true, ...mlCommon })]);
  if (marketplace.status === 'success' && items.status === 'success') dropOldTokenStores(root, ml);
  console.log(
    `extract mercado livre: ${marketplace.status}, ${[...marketplace.sources, ...items.sources].map((s) => `${s.dataset} ${s.rows}`).join(', ')} (runs ${marketplace.runId}, ${items.runId})`,
  );

  const shopDir = path.join(root, 'exports', 'shop');
  fs.rmSync(shopDir, { recursive: true, force: true });
  const shop = await generateShopDataset({ seed: 42, customers: 2000, days: 365, outDir: shopDir });
  const shopRun = await lake.extract(Object.keys(shop.files).map((table) => csvSource({ source: 'shop', dataset: table, path: shop.files[table as keyof typeof shop.files].path })));
  console.log(`extract shop export: ${shopRun.status}, ${shop.orders} orders of ${shop.customers} customers in ${Object.keys(shop.files).length} CSV files (run ${shopRun.runId})`);

  const build = await lake.build();
  const count = (status: string) => build.models.filter((m) => m.status === status).length;
  console.log(`build: ${build.status}, ${count('success')} models built, ${count('up-to-date')} up to date, ${count('error')} failed (run ${build.runId})`);
  for (const m of build.models.filter((m) => m.status === 'error' || m.status === 'skipped')) console.log(`  ${m.name}: ${m.error ?? m.skippedBecause}`);
  const passed = build.tests.filter((t) => t.status === 'pass').length;
  console.log(`tests: ${passed}/${build.tests.length} passed`);
  for (const t of build.tests.filter((t) => t.status !== 'pass')) console.log(`  ${t.status}: ${t.name} (${t.failures} failing)`);

  const rowsPerModel = await Promise.all(
    build.models.filter((m) => m.status === 'success' || m.status === 'up-to-date').map(async (m) => {
      const [{ n }] = (await lake.query(`select count(*) as n from ${m.name.split('.').map((p) => `"${p}"`).join('.')}`)) as [{ n: number }];
      return { model: m.name, status: m.status, rows: n };
    }),
  );
  console.table(rowsPerModel);
  const built = (name: string) => build.models.some((m) => m.name === name && (m.status === 'success' || m.status === 'up-to-date'));
  if (built('marts.mart_customer_rfm')) {
    console.log('customer segments (RFM):');
    console.table(await lake.query(`select segment, count(*) as customers, round(avg(monetary), 2) as avg_revenue from marts.mart_customer_rfm group by 1 order by 2 desc`));
  }
  if (built('marts.dim_sellers')) {
    console.log('marketplace sellers:');
    console.table(await lake.query(`select seller_id, nickname, orders_count, paid_revenue, average_ticket, reputation_level from marts.dim_sellers order by paid_revenue desc nulls last limit 3`));
  }
  if (built('marts.mart_price_changes')) {
    console.log('biggest price moves:');
    console.table(await lake.query(`select store, product_name, previous_price, new_price, change_pct from marts.mart_price_changes order by abs(change_pct) desc limit 5`));
  }
  console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`analytics: ${lake.paths.analytics}   (open it with any DuckDB client, or lake.query)`);
  console.log(`bronze:    ${lake.paths.bronze}`);
  console.log(`metrics:   ${lake.paths.metrics}`);
  console.log(`logs:      ${path.join(lake.paths.root, 'logs', 'duckhouse.log')}`);
  if (build.status === 'failed') process.exitCode = 1;
} finally {
  await lake.close();
  await vtex.close();
  await mlServer.close();
}
