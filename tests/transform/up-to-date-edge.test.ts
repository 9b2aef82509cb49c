import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prices, projectLake, writeFiles } from '../helpers/models.js';

const STG = { 'staging/stg_prices.sql': `select store, sku, price, _extracted_at from {{ source('shop', 'prices') }}` };

describe('up-to-date detection of incremental models', () => {
  it('a var that changes only the is_incremental() branch (a lookback window) changes the SQL that runs: the model is rebuilt and picks up late rows', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/inc.sql': `{{ config(materialized='incremental', unique_key=['store', 'sku']) }}
select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
{% if is_incremental() %}
where _extracted_at > (select max(_extracted_at) from {{ this }}) - interval {{ var('lookback_days', 0) }} day
{% endif %}`,
    });
    await lake.extract([prices([['a', '1', 1]])], { extractedAt: new Date('2026-01-03T12:00:00Z') });
    await lake.build();
    // Late data: a backfill extract stamped a day earlier; the default lookback (0 days) misses it.
    await lake.extract([prices([['a', '2', 2]])], { extractedAt: new Date('2026-01-02T12:00:00Z') });
    await lake.build();
    expect(await lake.query('select sku from trusted.inc order by sku')).toEqual([{ sku: '1' }]);
    // The dbt way to reprocess: widen the lookback for one build. The incremental SQL is different
    // now (README: a model is up-to-date only when its compiled SQL … did not change).
    const r = await lake.build({ vars: { lookback_days: 5 } });
    expect(r.models.find((m) => m.name === 'trusted.inc')!.status).toBe('success');
    expect(await lake.query('select sku from trusted.inc order by sku')).toEqual([{ sku: '1' }, { sku: '2' }]);
    expect(fs.readFileSync(path.join(lake.paths.compiled, 'trusted', 'inc.sql'), 'utf8')).toContain('interval 5 day');
  });
});

describe('an upstream table rebuilt with the same hash (a full refresh of it alone)', () => {
  it('is a new version: its readers are rebuilt by the next build, not left up-to-date on the rows before', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'a\n1\n2\n',
      'trusted/p.sql': `{{ config(materialized='incremental') }}
select a from {{ ref('src') }}
{% if is_incremental() %} where a > (select max(a) from {{ this }}) {% endif %}`,
      'marts/c.sql': `select count(*) as n from {{ ref('p') }}`,
    });
    await lake.build();
    // The seed now holds one row: the incremental run appends it (p: 1, 2, 3).
    writeFiles(models, { 'seeds/src.csv': 'a\n3\n' });
    await lake.build();
    expect(await lake.query('select n from marts.c')).toEqual([{ n: 3 }]);
    // A full refresh of p alone: p is rebuilt from the seed (one row); c, not selected, waits.
    const refresh = await lake.build({ select: ['p'], fullRefresh: true });
    expect(refresh.models.find((m) => m.name === 'trusted.p')).toMatchObject({ status: 'success', rows: 1 });
    // The next plain build: p has new files (its hash did not change), so c is rebuilt.
    const next = await lake.build();
    expect(next.models.find((m) => m.name === 'marts.c')!.status).toBe('success');
    expect(await lake.query('select (select count(*) from trusted.p) as p, (select n from marts.c) as c')).toEqual([{ p: 1, c: 1 }]);
  });
});
