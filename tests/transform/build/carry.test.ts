/**
 * A build starts a new catalog and takes the previous build's objects into it at each model's
 * turn in the DAG: the ones it does not rebuild (up to date, not selected, failed, skipped) keep
 * their previous version; the ones it rebuilds never bind their previous version first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { prices, projectLake, writeFiles } from '../../helpers/models.js';
import { registerCleanup } from '../../helpers/temp-lake.js';
import { Lakehouse } from '../../../src/index.js';

const STG = { 'staging/stg_prices.sql': `select store, sku, price, _extracted_at from {{ source('shop', 'prices') }}` };

describe('previous versions in a new catalog', () => {
  it('a model that fails keeps its last good version published, and so do the models skipped below it', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'trusted/t.sql': `{{ config(materialized='table') }} select sku, price from {{ ref('stg_prices') }}`,
      'marts/m.sql': `{{ config(materialized='table') }} select count(*) as n, sum(price) as total from {{ ref('t') }}`,
      'marts/v.sql': `{{ config(materialized='view') }} select sku from {{ ref('t') }}`,
    });
    await lake.extract([prices([['a', '1', 2], ['a', '2', 3]])]);
    expect((await lake.build()).status).toBe('success');
    await lake.extract([prices([['a', '3', 4]])]);
    writeFiles(models, { 'trusted/t.sql': `{{ config(materialized='table') }} select sku, price, no_such_column from {{ ref('stg_prices') }}` });
    const r = await lake.build();
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['staging.stg_prices', 'success'],
      ['trusted.t', 'error'],
      ['marts.m', 'skipped'],
      ['marts.v', 'skipped'],
    ]);
    // The new staging view reads the third row; the failed model and its readers are as before.
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 3 }]);
    expect(await lake.query('select sku from trusted.t order by sku')).toEqual([{ sku: '1' }, { sku: '2' }]);
    expect(await lake.query('select n, total from marts.m')).toEqual([{ n: 2, total: 5 }]);
    expect(await lake.query('select sku from marts.v order by sku')).toEqual([{ sku: '1' }, { sku: '2' }]);
  });

  it('a table that reads its own previous version ({{ this }}) finds it, in a rebuild and in a full refresh', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'marts/snap.sql': `{{ config(materialized='table') }} select 1 as build_no, count(*) as n from {{ ref('stg_prices') }}`,
    });
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    writeFiles(models, {
      'marts/snap.sql': `{{ config(materialized='table') }}
        select * from {{ this }}
        union all select (select max(build_no) + 1 from {{ this }}), count(*) from {{ ref('stg_prices') }}`,
    });
    await lake.extract([prices([['a', '2', 3]])]);
    expect((await lake.build()).models.find((m) => m.name === 'marts.snap')).toMatchObject({ status: 'success', rows: 2 });
    expect((await lake.build({ fullRefresh: true })).models.find((m) => m.name === 'marts.snap')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select build_no, n from marts.snap order by build_no')).toEqual([
      { build_no: 1, n: 1 },
      { build_no: 2, n: 2 },
      { build_no: 3, n: 2 },
    ]);
  });

  it('a model left out of the selection is carried after what it reads; one that no longer binds is named, not published broken', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'trusted/t.sql': `{{ config(materialized='table') }} select sku, price from {{ ref('stg_prices') }}`,
      'marts/v.sql': `{{ config(materialized='view') }} select sku, price * 2 as double_price from {{ ref('t') }}`,
      'marts/w.sql': `{{ config(materialized='view') }} select sku from {{ ref('t') }}`,
    });
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    // t is rebuilt alone, without the column v reads: v (not selected) can no longer be defined.
    writeFiles(models, { 'trusted/t.sql': `{{ config(materialized='table') }} select sku from {{ ref('stg_prices') }}` });
    const r = await lake.build({ select: ['t'] });
    expect(r.models.map((m) => [m.name, m.status])).toEqual([['trusted.t', 'success']]);
    expect(r.warnings).toContainEqual(expect.stringMatching(/^marts\.v is not in this build's catalog: its previous version no longer binds: .*price.*; select it to rebuild it$/));
    expect(r.warnings.some((w) => w.startsWith('marts.w'))).toBe(false);
    expect(await lake.query('select sku from marts.w')).toEqual([{ sku: '1' }]);
    await expect(lake.query('select * from marts.v')).rejects.toThrow(/marts\.v|v does not exist|Table with name v/i);
    // Selecting it rebuilds it (and fails on its own SQL, naming its file).
    const again = await lake.build({ select: ['v'] });
    expect(again.models).toMatchObject([{ name: 'marts.v', status: 'error', error: expect.stringContaining('models/marts/v.sql') }]);
  });

  it('a full refresh rebuilds a view whose previous version no longer binds (the bronze lost a column)', async () => {
    const { lake, models } = await projectLake({
      'staging/stg.sql': `select sku, price from {{ source('shop', 'prices') }}`,
      'marts/m.sql': `{{ config(materialized='table') }} select count(*) as n from {{ ref('stg') }}`,
    });
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    writeFiles(models, { 'staging/stg.sql': `select sku from {{ source('shop', 'prices') }}` });
    const r = await lake.build({ fullRefresh: true });
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['staging.stg', 'success'],
      ['marts.m', 'success'],
    ]);
    expect(await lake.query('select n from marts.m')).toEqual([{ n: 1 }]);
  });
  it("an audit table read by name from a model that sorts before the audited one holds the previous build's rejections", async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru.sql': `{{ config(materialized='table') }} select sku, price from {{ ref('stg_prices') }} where {{ reject_if('price <= 0', 'non_positive') }}`,
      // No ref() to an audit table: marts.rejections sorts before trusted.tru in the DAG.
      'marts/rejections.sql': `{{ config(materialized='view') }} select count(*) as n, (select count(*) from {{ ref('stg_prices') }}) as seen from audit.tru_rejected`,
    });
    await lake.extract([prices([['a', '1', 2], ['a', '2', -1]])]);
    const first = await lake.build();
    // The first build cannot know the audit table yet (nothing published): the view fails, the rest is built.
    expect(first.models.find((m) => m.name === 'marts.rejections')).toMatchObject({ status: 'error' });
    expect(first.models.find((m) => m.name === 'trusted.tru')).toMatchObject({ status: 'success' });
    await lake.extract([prices([['a', '3', 0]])]);
    const second = await lake.build();
    expect(second.models.map((m) => [m.name, m.status])).toEqual([
      ['staging.stg_prices', 'success'],
      ['marts.rejections', 'success'],
      ['trusted.tru', 'success'],
    ]);
    // The view reads the audit table as this build's catalog holds it: rebuilt after the view was defined.
    expect(await lake.query('select n from marts.rejections')).toEqual([{ n: 2 }]);
  });

  it('a selected model reads the extracts committed since its unselected upstream view was built; an edited view stays as the selection left it', async () => {
    const { lake, models } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'staging/stg_skus.sql': `select distinct sku from {{ ref('stg_prices') }}`,
      'staging/stg_other.sql': `select count(*) as n from {{ source('shop', 'prices') }}`,
      'marts/t.sql': `select count(*) as n from {{ ref('stg_skus') }}`,
    });
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    await lake.extract([prices([['a', '2', 3]])]);
    const r = await lake.build({ select: ['t'] });
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['staging.stg_prices', 'success'],
      ['staging.stg_skus', 'success'],
      ['marts.t', 'success'],
    ]);
    expect(await lake.query('select n from marts.t')).toEqual([{ n: 2 }]);
    // Not read by the selection: as of its build.
    expect(await lake.query('select n from staging.stg_other')).toEqual([{ n: 1 }]);
    expect((await lake.build({ select: ['t'] })).models.map((m) => m.status)).toEqual(['up-to-date']);

    // An edit to the view is published when the view is selected, not by a selection below it.
    writeFiles(models, { 'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }} where price > 2` });
    await lake.extract([prices([['a', '3', 4]])]);
    expect((await lake.build({ select: ['t'] })).models.map((m) => [m.name, m.status])).toEqual([['marts.t', 'up-to-date']]);
    expect(await lake.query('select n from marts.t')).toEqual([{ n: 2 }]);
  });
});

describe('a catalog written before views recorded their definition (an upgraded lake)', () => {
  /** Makes the published catalog look like one of those versions': no `definition` column. */
  async function dropDefinitions(root: string): Promise<void> {
    const db = await DuckDBInstance.create(path.join(root, 'analytics.duckdb'));
    const c = await db.connect();
    await c.run('ALTER TABLE _duckhouse.models DROP COLUMN definition');
    c.closeSync();
    db.closeSync();
  }

  const PROJECT = {
    'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
    'marts/t.sql': `select count(*) as n from {{ ref('stg_prices') }}`,
  };

  it('a selected model reads the extracts committed since its unselected upstream view was built', async () => {
    const { lake, root } = await projectLake(PROJECT);
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    await dropDefinitions(root);
    await lake.extract([prices([['a', '2', 3]])]);
    const r = await lake.build({ select: ['t'] });
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['staging.stg_prices', 'success'],
      ['marts.t', 'success'],
    ]);
    expect(await lake.query('select n from marts.t')).toEqual([{ n: 2 }]);
    // The view refreshed records its definition: the next selection finds it up to date.
    expect((await lake.build({ select: ['t'] })).models.map((m) => m.status)).toEqual(['up-to-date']);
  });

  it('an edited view of such a catalog still waits for its own selection', async () => {
    const { lake, models, root } = await projectLake(PROJECT);
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    await dropDefinitions(root);
    writeFiles(models, { 'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }} where price > 2` });
    await lake.extract([prices([['a', '2', 3]])]);
    expect((await lake.build({ select: ['t'] })).models.map((m) => [m.name, m.status])).toEqual([['marts.t', 'up-to-date']]);
    expect(await lake.query('select n from marts.t')).toEqual([{ n: 1 }]);
  });
});

describe('a lake moved to another folder (README: after moving data/, run a build)', () => {
  const MOVED = {
    'seeds/src.csv': 'a\n1\n2\n',
    'trusted/p.sql': `{{ config(materialized='incremental') }}
select a from {{ ref('src') }}
{% if is_incremental() %} where a > (select max(a) from {{ this }}) {% endif %}`,
    'marts/c.sql': `select count(*) as n from {{ ref('p') }}`,
    ...STG,
  };

  it('keeps its tables: the catalog names the old folder, yet a build neither deletes their files nor loses an incremental history', async () => {
    const { lake, models, root } = await projectLake(MOVED);
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.build();
    // The seed now holds one row: the incremental run appends it (p: 1, 2, 3), a history no rebuild can give back.
    writeFiles(models, { 'seeds/src.csv': 'a\n3\n' });
    await lake.build();
    await lake.close();
    const moved = path.join(path.dirname(root), 'moved');
    fs.renameSync(root, moved);
    const again = await Lakehouse.open({ root: moved, models, log: { console: false } });
    registerCleanup(() => again.close());
    // A selection whose models are all up to date still publishes the catalog anew, under the new folder.
    const r = await again.build({ select: ['src'] });
    expect([r.status, r.models.map((m) => [m.name, m.status])]).toEqual(['success', [['seeds.src', 'up-to-date']]]);
    expect(await again.query('select (select count(*) from trusted.p) as p, (select n from marts.c) as c')).toEqual([{ p: 3, c: 3 }]);
    // Every view of the catalog names the new folder: a plain DuckDB client reads them too.
    const db = await DuckDBInstance.create(again.paths.analytics, { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    try {
      const p = await c.runAndReadAll('select (select count(*) from trusted.p)::INT as p, (select count(*) from staging.stg_prices)::INT as stg');
      expect(p.getRowObjectsJS()).toEqual([{ p: 3, stg: 1 }]);
      const views = (await c.runAndReadAll(`select sql from duckdb_views() where not internal`)).getRowObjectsJS().map((v) => String(v.sql));
      expect(views.filter((sql) => sql.includes(root + path.sep))).toEqual([]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
    expect((await again.build({ select: ['c'] })).status).toBe('success');
    // A full build after it keeps the history too.
    await again.build();
    expect(await again.query('select (select count(*) from trusted.p) as p, (select n from marts.c) as c')).toEqual([{ p: 3, c: 3 }]);
  });
});
