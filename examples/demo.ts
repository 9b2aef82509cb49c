/**
 * `npm run demo`: the main job end to end on bundled data, offline.
 * Extracts the bundled sample into bronze and prints what landed where.
 */
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lakehouse, defineSource, z } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.env.DUCKHOUSE_ROOT ?? 'data');

const samplePrices = defineSource({
  source: 'sample',
  dataset: 'prices',
  partitionBy: ['store'],
  primaryKey: ['store', 'sku_id'],
  schema: z.object({
    store: z.string(),
    sku_id: z.string(),
    name: z.string(),
    price: z.number().positive(),
    list_price: z.number().positive(),
    captured_at: z.iso.datetime({ offset: true }),
  }),
  async *extract() {
    const rows = JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'sample-prices.json'), 'utf8')) as unknown[];
    yield rows;
  },
});

const started = performance.now();
const lake = await Lakehouse.open({ root, models: path.join(here, '..', 'models') });
try {
  const result = await lake.extract([samplePrices]);
  for (const s of result.sources) {
    console.log(`${s.source}/${s.dataset}: ${s.status}, ${s.rows} rows, ${s.rejected} rejected (see quarantine/), ${s.files} files, ${s.bytes} bytes`);
  }
  const perStore = await lake.query(
    `SELECT store, count(*) AS products, round(avg(price), 2) AS avg_price
     FROM read_parquet('${lake.paths.bronze}/sample/prices/**/*.parquet', hive_partitioning = true, hive_types = {'store': VARCHAR})
     WHERE _run_id = $1 GROUP BY store ORDER BY store`,
    [result.runId],
  );
  console.table(perStore);
  console.log(`run ${result.runId}: ${result.status} in ${Math.round(performance.now() - started)} ms`);
  console.log(`bronze:     ${lake.paths.bronze}`);
  console.log(`quarantine: ${lake.paths.quarantine}`);
  console.log(`metrics:    ${lake.paths.metrics}`);
} finally {
  await lake.close();
}
