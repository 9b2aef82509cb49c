/**
 * `npm run demo`: the main job end to end, offline, on bundled data.
 *
 * 1. Starts loopback servers that speak the APIs we read in production (VTEX catalog search),
 *    over the sample catalogs in examples/fixtures/.
 * 2. Extracts two simulated days of three supermarkets into bronze (prices move between them).
 * 3. Builds the models (staging → trusted → marts) and runs their data tests.
 * 4. Prints what landed where, and a taste of the marts.
 *
 * Point it at a real store by changing one line: `baseUrl: 'https://www.bistek.com.br'`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lakehouse, vtexCatalog } from '../src/index.js';
import { buildVtexCatalog } from './fixtures/vtex/catalog.js';
import { startVtexServer } from './fixtures/vtex/server.js';

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

  const build = await lake.build();
  const count = (status: string) => build.models.filter((m) => m.status === status).length;
  console.log(`build: ${build.status}, ${count('success')} models built, ${count('up-to-date')} up to date, ${count('error')} failed (run ${build.runId})`);
  for (const m of build.models.filter((m) => m.status === 'error' || m.status === 'skipped')) console.log(`  ${m.name}: ${m.error ?? m.skippedBecause}`);
  const passed = build.tests.filter((t) => t.status === 'pass').length;
  console.log(`tests: ${passed}/${build.tests.length} passed`);
  for (const t of build.tests.filter((t) => t.status !== 'pass')) console.log(`  ${t.status}: ${t.name} (${t.failures} failing)`);

  const rowsPerModel = await Promise.all(
    build.models.map(async (m) => {
      const [{ n }] = (await lake.query(`select count(*) as n from ${m.name.split('.').map((p) => `"${p}"`).join('.')}`)) as [{ n: number }];
      return { model: m.name, status: m.status, rows: n };
    }),
  );
  console.table(rowsPerModel);
  if (build.models.some((m) => m.name === 'marts.mart_price_changes' && m.status !== 'error')) {
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
}
