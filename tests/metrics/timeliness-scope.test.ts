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

describe('timeliness of a model reading a dataset of several stores', () => {
  it('is under 1 when one store is past the warn window (as its freshness alert says)', async () => {
    // Warn window 7.2 s: the small store's last extract falls out of it before the build.
    const { lake } = await projectLake(
      { 'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}` },
      { quality: { freshnessWarnHours: 0.002, freshnessErrorHours: 1 } },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await new Promise((r) => setTimeout(r, 8_000));
    const fresh = await lake.extract([store('big')]);
    expect(fresh.alerts!.filter((a) => a.kind === 'freshness').map((a) => a.subject)).toEqual(['obs/products (store=small)']);

    const build = await lake.build();
    expect(build.status).toBe('success');
    const [score] = await lake.query<{ timeliness: number }>(`select timeliness from marts.mart_data_quality where model = 'trusted.tru_products'`);
    // One of the two sources (stores) the model reads is stale.
    expect(score!.timeliness).toBe(0.5);
  }, 40_000);

  it('leaves out a store retired with lake.retireSource (dropped from the config), as its freshness alerts do', async () => {
    const { lake } = await projectLake(
      { 'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}` },
      { quality: { freshnessWarnHours: 0.002, freshnessErrorHours: 1 } },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await new Promise((r) => setTimeout(r, 8_000));
    await lake.retireSource({ source: 'obs', dataset: 'products', scope: 'store=small' });
    const fresh = await lake.extract([store('big')]);
    expect(fresh.alerts!.filter((a) => a.kind === 'freshness')).toEqual([]);
    expect((await lake.build()).status).toBe('success');
    const [score] = await lake.query<{ timeliness: number }>(`select timeliness from marts.mart_data_quality where model = 'trusted.tru_products'`);
    // Observed before: 0.5, the retired store counted stale for ever.
    expect(score!.timeliness).toBe(1);
  }, 40_000);

  it('leaves out a whole dataset retired: its models are scored on their other sources, or not for timeliness at all', async () => {
    const other = defineSource({ source: 'obs', dataset: 'prices', schema: z.object({ sku: z.string(), price: z.number() }), extract: () => [[{ sku: 'x', price: 1 }]] });
    const { lake } = await projectLake(
      {
        'trusted/tru_both.sql': `{{ config(materialized='table') }} select p.sku, p.price from {{ source('obs', 'prices') }} p join {{ source('obs', 'products') }} using (sku)`,
        'trusted/tru_products.sql': `{{ config(materialized='table') }} select store, sku, price from {{ source('obs', 'products') }}`,
      },
      { quality: { freshnessWarnHours: 0.002, freshnessErrorHours: 1 } },
    );
    expect((await lake.extract([store('big'), store('small')])).status).toBe('success');
    await new Promise((r) => setTimeout(r, 8_000));
    await lake.retireSource({ source: 'obs', dataset: 'products' });
    expect((await lake.extract([other])).status).toBe('success');
    expect((await lake.build()).status).toBe('success');
    const scores = await lake.query<{ model: string; timeliness: number | null }>(`select model, timeliness from marts.mart_data_quality order by model`);
    // Observed before: 0.5 and 0, the retired dataset counted as one source never extracted.
    expect(scores).toEqual([
      { model: 'trusted.tru_both', timeliness: 1 },
      { model: 'trusted.tru_products', timeliness: null },
    ]);
  }, 40_000);
});
