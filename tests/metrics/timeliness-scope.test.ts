/**
 * DESIGN, mart_data_quality: "timeliness (source freshness within its warn window)". README,
 * Alerts: "A source is its dataset and its constant partition values (`partitionBy: { store: 'a' }`
 * …): the stores of one dataset are each compared with their own runs … nor a stale one hidden by
 * a fresh one". The freshness alert says one store is stale, and the timeliness of the trusted
 * model reading that dataset counts it (it used to score 1: the fresh store hid the stale one).
 * A store retired (`lake.retireSource`) is counted by neither.
 */
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';

const store = (name: string) =>
  defineSource({
    source: 'obs',
    dataset: 'products',
    schema: z.object({ sku: z.string(), price: z.number() }),
    partitionBy: { store: name },
    extract: () => [[{ sku: `${name}-1`, price: 10 }, { sku: `${name}-2`, price: 12 }]],
  });

/**
 * The warn window, 14.4 s: the small store's extract ages past it while the big one's, extracted
 * again just before the build, must not. The build has the whole window: it took ~3.5 s with the
 * CPU loaded, where a 7.2 s window after a fixed 8 s wait left it under 4 s.
 */
const QUALITY = { freshnessWarnHours: 0.004, freshnessErrorHours: 1 };

/** Resolves once every extract that finished before it was called is past the warn window. */
async function pastWarnWindow(): Promise<void> {
  const until = Date.now() + QUALITY.freshnessWarnHours * 3_600_000;
  while (Date.now() <= until) await new Promise((r) => setTimeout(r, until - Date.now() + 1));
}

describe('timeliness of a model reading a dataset of several stores', () => {
  it('is under 1 when one store is past the warn window (as its freshness alert says)', async () => {
    // The small store's last extract falls out of the warn window before the build.
    const { lake } = await projectLake(
      { 'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}` },
      { quality: QUALITY },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await pastWarnWindow();
    const fresh = await lake.extract([store('big')]);
    expect(fresh.alerts!.filter((a) => a.kind === 'freshness').map((a) => a.subject)).toEqual(['obs/products (store=small)']);

    const build = await lake.build();
    expect(build.status).toBe('success');
    const [score] = await lake.query<{ timeliness: number }>(`select timeliness from marts.mart_data_quality where model = 'trusted.tru_products'`);
    // One of the two sources (stores) the model reads is stale.
    expect(score!.timeliness).toBe(0.5);
  }, 60_000);

  it('leaves out a store retired with lake.retireSource (dropped from the config), as its freshness alerts do', async () => {
    const { lake } = await projectLake(
      { 'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}` },
      { quality: QUALITY },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await pastWarnWindow();
    await lake.retireSource({ source: 'obs', dataset: 'products', scope: 'store=small' });
    const fresh = await lake.extract([store('big')]);
    expect(fresh.alerts!.filter((a) => a.kind === 'freshness')).toEqual([]);
    expect((await lake.build()).status).toBe('success');
    const [score] = await lake.query<{ timeliness: number }>(`select timeliness from marts.mart_data_quality where model = 'trusted.tru_products'`);
    // Observed before: 0.5, the retired store counted stale for ever.
    expect(score!.timeliness).toBe(1);
  }, 60_000);

  it('leaves out a whole dataset retired: its models are scored on their other sources, or not for timeliness at all', async () => {
    const other = defineSource({ source: 'obs', dataset: 'prices', schema: z.object({ sku: z.string(), price: z.number() }), extract: () => [[{ sku: 'x', price: 1 }]] });
    const { lake } = await projectLake(
      {
        'trusted/tru_both.sql': `{{ config(materialized='table') }} select p.sku, p.price from {{ source('obs', 'prices') }} p join {{ source('obs', 'products') }} using (sku)`,
        'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}`,
      },
      { quality: QUALITY },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await pastWarnWindow();
    await lake.retireSource({ source: 'obs', dataset: 'products' });
    expect((await lake.extract([other])).status).toBe('success');
    expect((await lake.build()).status).toBe('success');
    const scores = await lake.query<{ model: string; timeliness: number | null }>(`select model, timeliness from marts.mart_data_quality order by model`);
    // Observed before: 0.5 and 0, the retired dataset counted as one source never extracted.
    expect(scores).toEqual([
      { model: 'trusted.tru_both', timeliness: 1 },
      { model: 'trusted.tru_products', timeliness: null },
    ]);
  }, 60_000);
});
