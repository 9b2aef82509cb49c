/**
 * # Supermarket prices from VTEX stores
 *
 * A notebook as a script: run it with `npx tsx examples/01-vtex-prices.ts`.
 *
 * We read three supermarkets' public catalogs (here: loopback copies of the VTEX search API,
 * so it runs offline; for a real store pass `baseUrl: 'https://www.bistek.com.br'`), land them
 * in bronze, build the price models, and ask two questions: which store is cheapest for each
 * product, and what moved most this week.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lakehouse, vtexCatalog } from '../src/index.js';
import { buildVtexCatalog } from './fixtures/vtex/catalog.js';
import { startVtexServer } from './fixtures/vtex/server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const catalog = buildVtexCatalog();
const server = await startVtexServer({ catalog });
const lake = await Lakehouse.open({ root: process.env.DUCKHOUSE_ROOT ?? 'data', models: path.join(here, '..', 'models'), limits: { requestsPerSecond: 200, burst: 20 } });
try {
  // ## 1. Extract two days
  // Each store is one source; the connector splits categories over the API's 2,500-product cap.
  for (const day of [0, 1]) {
    server.setDay(day);
    const at = new Date(Date.now() - (1 - day) * 86_400_000);
    const result = await lake.extract(catalog.storeNames.map((store) => vtexCatalog({ store, baseUrl: server.baseUrlFor(store) })), { extractedAt: at });
    console.log(`day ${day + 1}: ${result.sources.map((s) => `${s.rows} products`).join(', ')}`);
  }

  // ## 2. Build the price models (and only those: `source:vtex+` is every model downstream of VTEX)
  const build = await lake.build({ select: ['source:vtex+'] });
  console.log(`build ${build.status}: ${build.models.length} models, ${build.tests.filter((t) => t.status === 'pass').length}/${build.tests.length} tests pass`);

  // ## 3. The cheapest store per product (products sold in more than one store, by EAN)
  console.table(
    await lake.query(`
      with latest as (
        select product_key, store, price, price_per_unit, unit,
               row_number() over (partition by product_key, store order by price_date desc) as rn
        from marts.fct_prices_daily)
      select p.product_name, l.store as cheapest_store, l.price, round(l.price_per_unit, 2) as per_unit, l.unit, p.stores_count
      from latest l join marts.dim_products p using (product_key)
      where l.rn = 1 and p.stores_count > 1
      qualify row_number() over (partition by l.product_key order by l.price) = 1
      order by p.stores_count desc, p.product_name limit 10`),
  );

  // ## 4. The week's biggest moves
  console.table(await lake.query(`select store, product_name, previous_price, new_price, change_pct, direction from marts.mart_price_changes order by abs(change_pct) desc limit 10`));
} finally {
  await lake.close();
  await server.close();
}
