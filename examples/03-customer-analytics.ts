/**
 * # Customer analytics on an e-commerce export: CLV, churn, RFM
 *
 * Run it with `npx tsx examples/03-customer-analytics.ts`.
 *
 * The export has the shape of the public Brazilian e-commerce dataset (orders, customers,
 * payments…); `generateShopDataset` writes a realistic one, dirty rows included, and
 * `csvSource` loads each CSV into bronze (bad rows to quarantine with their line).
 */
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lakehouse, csvSource, generateShopDataset } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.DUCKHOUSE_ROOT ?? 'data';
const lake = await Lakehouse.open({ root, models: path.join(here, '..', 'models') });
try {
  // ## 1. The export (replace with your own CSV files)
  const outDir = path.join(lake.paths.root, 'exports', 'shop');
  fs.rmSync(outDir, { recursive: true, force: true });
  const shop = await generateShopDataset({ seed: 7, customers: 3000, days: 365, outDir });
  await lake.extract(Object.entries(shop.files).map(([table, f]) => csvSource({ source: 'shop', dataset: table, path: f.path })));

  // ## 2. Build the shop models; dirty rows land in audit.* with their rule
  const build = await lake.build({ select: ['tag:shop'] });
  console.log(`build ${build.status}: ${build.models.length} models`);
  console.table(await lake.query(`select _rejected_rule as rule, count(*) as rows from audit.tru_shop_order_rejected group by 1 order by 2 desc`));

  // ## 3. Customer lifetime value and churn (as of the latest order date)
  console.table(await lake.query(`select count(*) as customers, round(avg(clv), 2) as avg_clv, round(avg(churned::INT), 3) as churn_rate from marts.mart_customer_ltv`));

  // ## 4. RFM segments with the recommended action
  console.table(await lake.query(`select segment, count(*) as customers, any_value(recommended_action) as action from marts.mart_customer_rfm group by 1 order by 2 desc`));

  // ## 5. Top customers
  console.table(await lake.query(`select customer_unique_id, orders, revenue, clv, days_since_last_order from marts.mart_customer_ltv order by clv desc limit 10`));
} finally {
  await lake.close();
}
