/**
 * Scale of the reliability suites (tests/reliability): `npm test` runs each with a few trials
 * (the fast subset); `npm run test:reliability` sets RELIABILITY_FULL=1 and runs the numbers of
 * the issue (20 crash trials, 10 builds under a reader…).
 */
import { writeFiles } from './models.js';

export const FULL = process.env.RELIABILITY_FULL === '1';

/** `fast` in `npm test`, `full` in `npm run test:reliability`. */
export function scaled<T>(fast: T, full: T): T {
  return FULL ? full : fast;
}

/** A small PRNG (mulberry32) so a failing trial can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: RELIABILITY_SEED when set (to replay), else the clock. Printed by the suites. */
export const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);

/**
 * Models over a synthetic `items` dataset (tests/helpers/synthetic-source.ts): a staging view,
 * an incremental merge where the latest extraction of an id wins (`trusted.items`), and marts
 * that summarise it. `marts.totals` is what tests/helpers/child-reader.ts checks: its `n` must
 * always equal the row count of `trusted.items`, in every published catalog.
 */
export function itemsModels(source: string): Record<string, string> {
  return {
    'staging/stg_items.sql': `select id, store, price, _run_id, _extracted_at from {{ source('${source}', 'items') }}`,
    'trusted/items.sql': `{{ config(materialized='incremental', unique_key='id') }}
select id, store, price, _run_id, _extracted_at
from {{ ref('stg_items') }}
{% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
qualify row_number() over (partition by id order by _extracted_at desc, _run_id desc) = 1`,
    'marts/totals.sql': `select count(*) as n, count(distinct id) as ids, {{ var('build_no', 0) }} as build from {{ ref('items') }}`,
    'marts/store_totals.sql': `select store, count(*) as n, sum(price) as revenue from {{ ref('items') }} group by store`,
    'marts/price_bands.sql': `select id, store, price, ntile(10) over (order by price, id) as band from {{ ref('items') }}`,
  };
}

export function writeItemsModels(models: string, source: string): void {
  writeFiles(models, itemsModels(source));
}

/** Checks of a published build of itemsModels, as SQL: every row is 1 when the build is whole and has no duplicate. */
export const ITEMS_BUILD_CHECK = `SELECT
  (SELECT n FROM marts.totals) AS n,
  (SELECT build FROM marts.totals) AS build,
  (SELECT count(*) FROM trusted.items) AS items,
  (SELECT count(DISTINCT id) FROM trusted.items) AS distinct_ids,
  (SELECT sum(n) FROM marts.store_totals) AS store_sum,
  (SELECT count(*) FROM marts.price_bands) AS bands`;

export interface ItemsBuildState {
  n: number;
  build: number;
  items: number;
  distinct_ids: number;
  store_sum: number;
  bands: number;
}

export function toBuildState(row: Record<string, unknown> | undefined): ItemsBuildState {
  const r = row ?? {};
  return { n: Number(r.n), build: Number(r.build), items: Number(r.items), distinct_ids: Number(r.distinct_ids), store_sum: Number(r.store_sum), bands: Number(r.bands) };
}

/** A whole build with no duplicate: every count agrees. */
export function isWholeBuild(s: ItemsBuildState): boolean {
  return s.n === s.items && s.items === s.distinct_ids && s.store_sum === s.items && s.bands === s.items;
}
