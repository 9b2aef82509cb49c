/**
 * Build benchmark. 1,000,000+ bronze price rows over 30 days (one extract per day), a small
 * price project (staging view → incremental trusted model → two marts). Side by side in one run:
 *   (a) lake.build full refresh  vs  the same compiled statements run directly on DuckDB
 *       (each table model as CREATE TABLE AS in a DuckDB file, in the same order)   target ≤ 1.15×
 *   (b) one more day of bronze, incremental build  vs  (a)'s full build              target ≤ 15%
 *   (c) nothing changed, build again               vs  (a)'s full build              target ≤ 5%
 *   ((b) and (c) three times, one new day each, best of three; (a) best of two; then (c) 20 more
 *   times, its median and min printed beside it)
 * and the publish step on a catalog whose warehouse holds ~1 GB of Parquet: how long the
 * rename-based publish takes when one small model changes (no data is copied).
 *   npm run bench:build [-- --rows-per-day 34000 --gb 1]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse, defineSource, z } from '../../src/index.js';

const arg = (name: string, fallback: number): number => Number(process.argv.find((_, i) => process.argv[i - 1] === `--${name}`) ?? fallback);
const ROWS_PER_DAY = arg('rows-per-day', 34_000);
const DAYS = 30;
const GB = arg('gb', 1);
const STORES = ['bistek', 'fort', 'giassi'];

const MODELS: Record<string, string> = {
  'staging/stg_prices.sql': `select store, sku, price, list_price, _extracted_at as extracted_at,
      cast(timezone('America/Sao_Paulo', _extracted_at) as date) as price_date
    from {{ source('bench', 'prices') }}`,
  'trusted/tru_price.sql': `{{ config(materialized='incremental', unique_key=['store', 'sku', 'price_date'], partition_by='price_date') }}
    select store, sku, price_date, arg_max(price, extracted_at)::DECIMAL(18,2) as price, min(price)::DECIMAL(18,2) as min_price,
      max(price)::DECIMAL(18,2) as max_price, arg_max(list_price, extracted_at)::DECIMAL(18,2) as list_price
    from {{ ref('stg_prices') }}
    {# Filter on the raw instant so Parquet row-group stats skip the older bronze files. #}
    {% if is_incremental() %} where extracted_at >= (select timezone('America/Sao_Paulo', max(price_date)::TIMESTAMP) from {{ this }}) {% endif %}
    group by all`,
  'marts/fct_prices_daily.sql': `{{ config(materialized='incremental', unique_key=['store', 'sku', 'price_date'], partition_by='price_date') }}
    select * from (
      select store, sku, price_date, price, list_price, price < list_price as on_promotion,
        price - lag(price) over (partition by store, sku order by price_date) as change
      from {{ ref('tru_price') }}
      {% if is_incremental() %} where price_date >= (select max(price_date) - 1 from {{ this }}) {% endif %}
    ) as d
    {% if is_incremental() %} where price_date >= (select max(price_date) from {{ this }}) {% endif %}`,
  'marts/mart_store_day.sql': `select store, price_date, count(*) as skus, avg(price) as avg_price, sum(case when on_promotion then 1 else 0 end) as promotions
    from {{ ref('fct_prices_daily') }} group by all`,
};

function dayRows(day: number): { store: string; sku: string; price: number; list_price: number }[] {
  const rows = [];
  for (let i = 0; i < ROWS_PER_DAY; i++) {
    const base = 2 + ((i * 7919) % 20_000) / 100;
    const price = Math.round(base * (1 + (((i + day * 13) % 17) - 8) / 100) * 100) / 100;
    rows.push({ store: STORES[i % 3]!, sku: String(100_000 + i), price, list_price: Math.round(base * 1.1 * 100) / 100 });
  }
  return rows;
}

const source = (day: number) =>
  defineSource({
    source: 'bench',
    dataset: 'prices',
    partitionBy: ['store'],
    schema: z.object({ store: z.string(), sku: z.string(), price: z.number(), list_price: z.number() }),
    extract: () => [dayRows(day)],
  });

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [(performance.now() - t0) / 1000, out];
}

async function directRun(compiledDir: string, order: string[]): Promise<number> {
  const file = path.join(os.tmpdir(), `bench-direct-${process.pid}.duckdb`);
  fs.rmSync(file, { force: true });
  const db = await DuckDBInstance.create(file, { autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  const t0 = performance.now();
  for (const schema of ['staging', 'trusted', 'marts']) await c.run(`CREATE SCHEMA ${schema}`);
  for (const id of order) {
    const [schema, name] = id.split('.');
    const sql = fs.readFileSync(path.join(compiledDir, schema!, `${name}.sql`), 'utf8');
    const kind = schema === 'staging' ? 'VIEW' : 'TABLE';
    await c.run(`CREATE ${kind} ${schema}.${name} AS ${sql}`);
  }
  await c.run('CHECKPOINT');
  const seconds = (performance.now() - t0) / 1000;
  c.closeSync();
  db.closeSync();
  fs.rmSync(file, { force: true });
  return seconds;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-build-'));
  const models = path.join(dir, 'models');
  for (const [rel, sql] of Object.entries(MODELS)) {
    fs.mkdirSync(path.dirname(path.join(models, rel)), { recursive: true });
    fs.writeFileSync(path.join(models, rel), sql);
  }
  const lake = await Lakehouse.open({ root: path.join(dir, 'data'), models, log: { file: false, console: false } });
  try {
    const start = Date.UTC(2026, 9, 1, 15);
    const [extractSeconds] = await timed(async () => {
      for (let d = 0; d < DAYS; d++) await lake.extract([source(d)], { extractedAt: new Date(start + d * 86_400_000) });
    });
    console.log(`bronze: ${(ROWS_PER_DAY * DAYS).toLocaleString('en-US')} rows over ${DAYS} days, extracted in ${extractSeconds.toFixed(1)} s`);

    const [full, fullResult] = await timed(() => lake.build({ fullRefresh: true, test: false }));
    if (fullResult.status !== 'success') throw new Error(JSON.stringify(fullResult.models));
    const direct = await directRun(lake.paths.compiled, fullResult.models.map((m) => m.name));
    // Run both once more, alternating, and keep the best of each (warm caches for both).
    const [full2] = await timed(() => lake.build({ fullRefresh: true, test: false }));
    const direct2 = await directRun(lake.paths.compiled, fullResult.models.map((m) => m.name));
    const fullBest = Math.min(full, full2);
    const directBest = Math.min(direct, direct2);

    // Three more days, one at a time: each an incremental build of one new day, then a build with
    // nothing changed. The best of the three counts for each (as for the full builds).
    const incs: number[] = [];
    const nothings: number[] = [];
    let incResult: Awaited<ReturnType<typeof lake.build>> | undefined;
    let nothingResult: Awaited<ReturnType<typeof lake.build>> | undefined;
    for (let k = 0; k < 3; k++) {
      await lake.extract([source(DAYS + k)], { extractedAt: new Date(start + (DAYS + k) * 86_400_000) });
      const [inc, incR] = await timed(() => lake.build({ test: false }));
      const [none, noneR] = await timed(() => lake.build({ test: false }));
      if (incR.models.some((m) => m.status !== 'success') || noneR.models.some((m) => m.status !== 'up-to-date')) throw new Error(`unexpected statuses: ${JSON.stringify([incR.models, noneR.models])}`);
      incs.push(inc);
      nothings.push(none);
      incResult ??= incR;
      nothingResult ??= noneR;
    }
    const incremental = Math.min(...incs);
    const nothing = Math.min(...nothings);
    // (c)'s best of three cannot show a change of a few tens of ms on a shared machine: the same
    // nothing-changed build 20 more times, printed as median and min beside it (the target uses (c)).
    const repeats: number[] = [];
    for (let k = 0; k < 20; k++) repeats.push((await timed(() => lake.build({ test: false })))[0]);
    repeats.sort((x, y) => x - y);

    console.log(`\n(a) full build ${fullBest.toFixed(2)} s vs direct DuckDB ${directBest.toFixed(2)} s: ${(fullBest / directBest).toFixed(2)}× (target ≤ 1.15×) ${fullBest / directBest <= 1.15 ? 'OK' : 'MISSED'}`);
    console.log(`(b) one more day, incremental: ${incremental.toFixed(2)} s = ${((incremental / fullBest) * 100).toFixed(1)}% of full (target ≤ 15%) ${incremental / fullBest <= 0.15 ? 'OK' : 'MISSED'}`);
    console.log(`    each day: ${incs.map((x) => x.toFixed(2)).join(', ')} s; first: ${incResult!.models.map((m) => `${m.name} ${m.status} ${m.durationMs} ms`).join(', ')}`);
    console.log(`(c) nothing changed: ${nothing.toFixed(2)} s = ${((nothing / fullBest) * 100).toFixed(1)}% of full (target ≤ 5%) ${nothing / fullBest <= 0.05 ? 'OK' : 'MISSED'}`);
    console.log(`    each time: ${nothings.map((x) => x.toFixed(2)).join(', ')} s; ${nothingResult!.models.map((m) => `${m.name} ${m.status}`).join(', ')}`);
    console.log(`    20 more: median ${(repeats[10]! * 1000).toFixed(0)} ms, min ${(repeats[0]! * 1000).toFixed(0)} ms`);
  } finally {
    await lake.close();
  }
  await publishBench(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Publish cost with ~GB of Parquet in the warehouse: a wide table model plus one tiny model that changes. */
async function publishBench(dir: string): Promise<void> {
  const models = path.join(dir, 'models-publish');
  const rows = Math.round((GB * 1e9) / 60); // ~60 bytes per row of incompressible-ish data
  const files: Record<string, string> = {
    'marts/big.sql': `select range as id, md5(range::VARCHAR) as a, md5((range * 7)::VARCHAR) as b from range(${rows})`,
    'marts/small.sql': `select {{ var('v', 1) }} as v`,
  };
  for (const [rel, sql] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(models, rel)), { recursive: true });
    fs.writeFileSync(path.join(models, rel), sql);
  }
  const lake = await Lakehouse.open({ root: path.join(dir, 'data-publish'), models, log: { file: false, console: false } });
  try {
    const [bigSeconds] = await timed(() => lake.build({ test: false }));
    const size = (fs.readdirSync(lake.paths.warehouse, { recursive: true }) as string[])
      .map((f) => path.join(lake.paths.warehouse, f))
      .filter((f) => fs.statSync(f).isFile())
      .reduce((s, f) => s + fs.statSync(f).size, 0);
    const [smallSeconds, r] = await timed(() => lake.build({ test: false, vars: { v: 2 } }));
    const catalog = fs.statSync(lake.paths.analytics).size;
    console.log(
      `\npublish: warehouse ${(size / 1e9).toFixed(2)} GB (built in ${bigSeconds.toFixed(1)} s); changing one small model: build + publish ${(smallSeconds * 1000).toFixed(0)} ms ` +
        `(${r.models.map((m) => `${m.name} ${m.status}`).join(', ')}); catalog file ${(catalog / 1024).toFixed(0)} KB — no table data copied`,
    );
  } finally {
    await lake.close();
  }
}

await main();
