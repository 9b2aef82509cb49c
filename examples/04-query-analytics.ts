/**
 * # Querying the lake from anywhere
 *
 * Run it after the demo (`npm run demo`) or another example with `npx tsx examples/04-query-analytics.ts`:
 * it reads the prices (demo, 01) and the orders (demo, 02, 03) this lake has built.
 *
 * `analytics.duckdb` is a plain DuckDB file: open it read-only with any DuckDB client (the CLI,
 * Python, DBeaver…) or, as here, with `@duckdb/node-api` directly and through duckhouse.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse } from '../src/index.js';

const root = path.resolve(process.env.DUCKHOUSE_ROOT ?? 'data');
if (!fs.existsSync(path.join(root, 'analytics.duckdb'))) {
  console.error(`${path.join(root, 'analytics.duckdb')} does not exist yet: run \`npm run demo\` (or another example) first.`);
  process.exit(1);
}

// ## 1. Any DuckDB client, read-only: never blocks a build, never sees a half-built state
const db = await DuckDBInstance.create(path.join(root, 'analytics.duckdb'), { access_mode: 'READ_ONLY' });
const c = await db.connect();
const tables = await c.runAndReadAll(`select table_schema, count(*)::INTEGER as tables from information_schema.tables where table_schema not like '\\_%' escape '\\' group by 1 order by 1`);
console.table(tables.getRowObjectsJS());
c.closeSync();
db.closeSync();

// ## 2. Through duckhouse: plain objects, parameters, Arrow (over whichever facts this lake has built)
const lake = await Lakehouse.open({ root });
try {
  const built = new Set((await lake.query(`select table_schema || '.' || table_name as t from information_schema.tables`)).map((r) => String(r.t)));
  if (built.has('marts.fct_prices_daily')) {
    // After the demo or 01-vtex-prices: supermarket prices.
    const rows = await lake.query(`select store, count(distinct price_date) as days, count(*) as product_days, round(avg(price), 2) as avg_price from marts.fct_prices_daily where price_date >= $1::DATE group by 1 order by 1`, ['2000-01-01']);
    console.table(rows);
    const table = await lake.queryArrow(`select store, price_date, avg(price) as avg_price from marts.fct_prices_daily group by all order by all`);
    console.log(`Arrow table: ${table.numRows} rows of marts.fct_prices_daily, columns ${table.schema.fields.map((f) => `${f.name}:${f.type}`).join(', ')}`);
  }
  if (!['marts.fct_prices_daily', 'marts.fct_orders', 'marts.fct_shop_orders'].some((t) => built.has(t))) console.log('No prices or orders fact is built in this lake yet: run the demo or another example first.');
  for (const [fact, day, revenue] of [['marts.fct_orders', 'date_created_date', 'revenue_amount'], ['marts.fct_shop_orders', 'purchased_date', 'revenue']] as const) {
    if (!built.has(fact)) continue;
    // After the demo, 02-mercadolivre-orders (fct_orders) or 03-customer-analytics (fct_shop_orders): orders.
    console.table(await lake.query(`select date_trunc('month', ${day})::DATE as month, count(*) as orders, round(sum(${revenue}), 2) as revenue from ${fact} where ${day} >= $1::DATE group by 1 order by 1 desc limit 6`, ['2000-01-01']));
    const table = await lake.queryArrow(`select ${day} as day, count(*) as orders from ${fact} group by all order by all`);
    console.log(`Arrow table: ${table.numRows} rows of ${fact}, columns ${table.schema.fields.map((f) => `${f.name}:${f.type}`).join(', ')}`);
  }
  // ## 3. The run history
  console.table((await lake.runs({ limit: 5 })).map((r) => ({ run: r.runId, kind: r.kind, status: r.status, rows: r.rows })));
} finally {
  await lake.close();
}
