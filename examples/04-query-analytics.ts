/**
 * # Querying the lake from anywhere
 *
 * Run it after the demo (`npm run demo`) with `npx tsx examples/04-query-analytics.ts`.
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
const tables = await c.runAndReadAll(`select table_schema, count(*) as tables from information_schema.tables where table_schema not like '\\_%' escape '\\' group by 1 order by 1`);
console.table(tables.getRowObjectsJS());
c.closeSync();
db.closeSync();

// ## 2. Through duckhouse: plain objects, parameters, Arrow
const lake = await Lakehouse.open({ root });
try {
  const rows = await lake.query(`select store, count(distinct price_date) as days, count(*) as product_days, round(avg(price), 2) as avg_price from marts.fct_prices_daily where price_date >= $1::DATE group by 1 order by 1`, ['2000-01-01']);
  console.table(rows);
  const table = await lake.queryArrow(`select store, price_date, avg(price) as avg_price from marts.fct_prices_daily group by all order by all`);
  console.log(`Arrow table: ${table.numRows} rows, columns ${table.schema.fields.map((f) => `${f.name}:${f.type}`).join(', ')}`);
  // ## 3. The run history
  console.table((await lake.runs({ limit: 5 })).map((r) => ({ run: r.runId, kind: r.kind, status: r.status, rows: r.rows })));
} finally {
  await lake.close();
}
