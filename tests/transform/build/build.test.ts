import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/index.js';
import { prices, projectLake, writeFiles } from '../../helpers/models.js';

/** The Parquet files under a folder, relative and sorted. */
function listParquet(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
}

const STG = { 'staging/stg_prices.sql': `select store, sku, price, _extracted_at from {{ source('shop', 'prices') }}` };

describe('lake.build materializations', () => {
  it('builds view, table, ephemeral and seeds into analytics.duckdb with the right objects', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/eph_positive.sql': `{{ config(materialized='ephemeral') }} select * from {{ ref('stg_prices') }} where price > 0`,
      'trusted/tru_price.sql': `select store, sku, price::DECIMAL(18,2) as price from {{ ref('eph_positive') }}`,
      'marts/mart_store.sql': `select p.store, s.region, count(*) as n from {{ ref('tru_price') }} p join {{ ref('stores') }} s using (store) group by all`,
      'seeds/stores.csv': 'store,region\nbistek,sul\nfort,norte\n',
    });
    await lake.extract([prices([['bistek', 'a', 1], ['bistek', 'b', 2], ['fort', 'a', -3]])]);
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(r.models.map((m) => [m.name, m.materialization, m.status, m.rows])).toEqual([
      ['seeds.stores', 'seed', 'success', 2],
      ['staging.stg_prices', 'view', 'success', null],
      ['trusted.tru_price', 'table', 'success', 2],
      ['marts.mart_store', 'table', 'success', 1],
    ]);
    expect(await lake.query('select * from marts.mart_store')).toEqual([{ store: 'bistek', region: 'sul', n: 2 }]);
    const objects = await lake.query(`select schema_name, view_name from duckdb_views() where database_name = 'analytics' and not internal order by all`);
    // Plus the engine's own quality history (trusted and mart models are scored).
    expect(objects.map((o) => `${o.schema_name}.${o.view_name}`)).toEqual(['marts.mart_data_quality', 'marts.mart_store', 'seeds.stores', 'staging.stg_prices', 'trusted.tru_price']);
    // Money is DECIMAL in trusted; the ephemeral left no object behind.
    const [type] = await lake.query(`select data_type from information_schema.columns where table_schema = 'trusted' and table_name = 'tru_price' and column_name = 'price'`);
    expect(type!.data_type).toBe('DECIMAL(18,2)');
    // Compiled SQL, lineage.
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'trusted', 'tru_price.sql'), 'utf8');
    expect(compiled).toContain('where price > 0');
    expect(compiled).toContain('"staging"."stg_prices"');
    const lineage = JSON.parse(fs.readFileSync(path.join(lake.paths.root, 'lineage.json'), 'utf8'));
    expect(lineage.edges).toContainEqual({ from: 'source:shop.prices', to: 'staging.stg_prices' });
    const l = await lake.lineage();
    expect(l.mermaid).toMatch(/^graph LR/);
  });

  it('a view over a source reads the bronze files committed when it was built; the next build brings new ones', async () => {
    // Files are listed one by one, not globbed: a compaction switching files can never show a reader both sets.
    const { lake } = await projectLake({ ...STG, 'marts/snap.sql': `select count(*) as n from {{ ref('stg_prices') }}` });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.build();
    await lake.extract([prices([['a', '2', 1]])]);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 1 }]);
    expect(await lake.query('select n from marts.snap')).toEqual([{ n: 1 }]);
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'staging.stg_prices')!.status).toBe('success');
    expect(r.models.find((m) => m.name === 'marts.snap')!.status).toBe('success');
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 2 }]);
    expect(await lake.query('select n from marts.snap')).toEqual([{ n: 2 }]);
  });

  it.each(['merge', 'delete+insert', 'append'])('incremental %s after new bronze equals a full refresh', async (strategy) => {
    const key = strategy === 'append' ? '' : `, unique_key=['store', 'sku']`;
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_latest.sql': `{{ config(materialized='incremental', incremental_strategy='${strategy}'${key}) }}
        select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
        qualify row_number() over (partition by store, sku order by _extracted_at desc) = 1`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '2', 2]])], { extractedAt: new Date('2026-01-01T12:00:00Z') });
    const first = await lake.build();
    expect(first.models.find((m) => m.name === 'trusted.tru_latest')).toMatchObject({ status: 'success', rows: 2 });
    await lake.extract([prices([['a', '1', 10], ['b', '3', 3]])], { extractedAt: new Date('2026-01-02T12:00:00Z') });
    const second = await lake.build();
    const expectedRows = strategy === 'append' ? 4 : 3;
    expect(second.models.find((m) => m.name === 'trusted.tru_latest')).toMatchObject({ status: 'success', rows: expectedRows });
    const incremental = await lake.query('select store, sku, price from trusted.tru_latest order by all');
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'trusted', 'tru_latest.sql'), 'utf8');
    expect(compiled).toContain('select max(_extracted_at) from "trusted"."tru_latest"');
    if (strategy !== 'append') {
      await lake.build({ fullRefresh: true });
      const full = await lake.query('select store, sku, price from trusted.tru_latest order by all');
      expect(incremental).toEqual(full);
      expect(full).toEqual([
        { store: 'a', sku: '1', price: 10 },
        { store: 'a', sku: '2', price: 2 },
        { store: 'b', sku: '3', price: 3 },
      ]);
    } else {
      expect(incremental).toHaveLength(4);
    }
  });

  it.each(['merge', 'append'])('incremental %s with partition_by rewrites only the partitions its new rows touch; rows and content equal a full refresh', async (strategy) => {
    const key = strategy === 'append' ? '' : `, unique_key=['store', 'sku']`;
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_part.sql': `{{ config(materialized='incremental', incremental_strategy='${strategy}', partition_by='store'${key}) }}
        select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
        qualify row_number() over (partition by store, sku order by _extracted_at desc) = 1`,
    });
    const day = (d: number) => ({ extractedAt: new Date(Date.UTC(2026, 0, d, 12)) });
    // The published view lists the model's files: which partition folders each one is in.
    const filesFor = async (store: string) => {
      const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 'tru_part'`);
      return [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => m[1]!).filter((f) => f.includes(`${path.sep}store=${store}${path.sep}`));
    };
    const rowsAfter = async (rows: [string, string, number][], d: number) => {
      await lake.extract([prices(rows)], day(d));
      const r = await lake.build();
      const model = r.models.find((m) => m.name === 'trusted.tru_part')!;
      expect(model.status).toBe('success');
      expect(await lake.query('select count(*) as n from trusted.tru_part')).toEqual([{ n: model.rows }]);
      return model.rows;
    };
    expect(await rowsAfter([['a', '1', 1], ['a', '2', 2], ['b', '1', 5]], 1)).toBe(3);
    const store = (s: string) => lake.query(`select sku, price from trusted.tru_part where store = '${s}' order by sku`);
    const [bBefore, aBefore] = [await filesFor('b'), await filesFor('a')];
    expect(bBefore).toHaveLength(1);
    // Only store a changes (one row replaced, one new): b's partition file stays as it was.
    expect(await rowsAfter([['a', '1', 10], ['a', '3', 3]], 2)).toBe(strategy === 'append' ? 5 : 4);
    expect(await filesFor('b')).toEqual(bBefore);
    expect(await filesFor('a')).not.toEqual(aBefore);
    expect(await store('b')).toEqual([{ sku: '1', price: 5 }]);
    // A new partition only: nothing old is touched.
    expect(await rowsAfter([['c', '1', 7]], 3)).toBe(strategy === 'append' ? 6 : 5);
    // Rows and content equal a full refresh (merge); append keeps every version.
    const incremental = await lake.query('select store, sku, price from trusted.tru_part order by all');
    if (strategy === 'merge') {
      const full = await lake.build({ fullRefresh: true });
      expect(full.models.find((m) => m.name === 'trusted.tru_part')!.rows).toBe(5);
      expect(await lake.query('select store, sku, price from trusted.tru_part order by all')).toEqual(incremental);
      expect(incremental).toEqual([
        { store: 'a', sku: '1', price: 10 },
        { store: 'a', sku: '2', price: 2 },
        { store: 'a', sku: '3', price: 3 },
        { store: 'b', sku: '1', price: 5 },
        { store: 'c', sku: '1', price: 7 },
      ]);
    } else {
      expect(incremental).toHaveLength(6);
    }
  });

  it.each([['partitioned', `, partition_by='store'`], ['unpartitioned', '']])(
    'incremental merge (%s): a rewritten partition holds two files (rows kept, rows new), not one more per build; a build with no new rows writes nothing',
    async (_label, partitionBy) => {
      const { lake, models, root } = await projectLake({
        ...STG,
        'trusted/tru_m.sql': `{{ config(materialized='incremental', unique_key=['store', 'sku']${partitionBy}) }}
          select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
          {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
          qualify row_number() over (partition by store, sku order by _extracted_at desc) = 1`,
      });
      const modelFiles = async () => {
        const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 'tru_m'`);
        return [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => m[1]!);
      };
      const inFolder = () => listParquet(path.join(root, 'warehouse', 'trusted', 'tru_m'));
      const step = async (rows: [string, string, number][], d: number) => {
        await lake.extract([prices(rows)], { extractedAt: new Date(Date.UTC(2026, 0, d, 12)) });
        const model = (await lake.build()).models.find((m) => m.name === 'trusted.tru_m')!;
        expect(model.status).toBe('success');
        expect(await lake.query('select count(*) as n from trusted.tru_m')).toEqual([{ n: model.rows }]);
        return model.rows;
      };
      expect(await step([['a', '1', 1], ['a', '2', 2], ['a', '3', 3], ['b', '1', 9]], 1)).toBe(4);
      // Each day replaces one row of store a (the last one a row the day before added) and adds one:
      // a's rows live in the kept-rows file and the new-rows file.
      const replaced = ['1', '2', '3', '12'];
      for (let d = 2; d <= 5; d += 1) {
        expect(await step([['a', replaced[d - 2]!, 10 * d], ['a', String(10 + d), d]], d)).toBe(4 + d - 1);
        const files = await modelFiles();
        const ofA = partitionBy ? files.filter((f) => f.includes(`${path.sep}store=a${path.sep}`)) : files;
        expect(ofA).toHaveLength(2);
        if (partitionBy) expect(files.filter((f) => f.includes(`${path.sep}store=b${path.sep}`))).toHaveLength(1);
      }
      const incremental = await lake.query('select store, sku, price from trusted.tru_m order by all');
      expect(incremental).toHaveLength(8);
      expect(incremental.filter((r) => r.store === 'a' && replaced.includes(String(r.sku))).map((r) => [r.sku, r.price])).toEqual([['1', 20], ['12', 50], ['2', 30], ['3', 40]]);
      // The SQL changes (so the model is rebuilt, incrementally) but no row is newer: nothing is
      // written. It now ends in `; -- done`, which the engine's wrapping must survive.
      const before = { files: await modelFiles(), onDisk: inFolder() };
      const text = fs.readFileSync(path.join(models, 'trusted', 'tru_m.sql'), 'utf8');
      writeFiles(models, { 'trusted/tru_m.sql': `${text.replace('select store', '/* touched */ select store')}; -- done` });
      const same = (await lake.build()).models.find((m) => m.name === 'trusted.tru_m')!;
      expect(same).toMatchObject({ status: 'success', rows: 8 });
      expect(await modelFiles()).toEqual(before.files);
      expect(inFolder()).toEqual(before.onDisk);
      expect(await lake.query('select store, sku, price from trusted.tru_m order by all')).toEqual(incremental);
      expect((await lake.build({ fullRefresh: true })).models.find((m) => m.name === 'trusted.tru_m')).toMatchObject({ status: 'success', rows: 8 });
      expect(await lake.query('select store, sku, price from trusted.tru_m order by all')).toEqual(incremental);
    },
  );

  it("on_schema_change 'ignore' keeps the table's columns; 'sync_all_columns' rewrites every partition to the new ones", async () => {
    const model = (onChange: string, columns: string) => `{{ config(materialized='incremental', unique_key=['store', 'sku'], partition_by='store', on_schema_change='${onChange}') }}
      select ${columns} from {{ ref('stg_prices') }}
      {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ ...STG, 'trusted/tru_s.sql': model('ignore', 'store, sku, price, _extracted_at') });
    const columns = async () => (await lake.query(`select column_name from duckdb_columns() where schema_name = 'trusted' and table_name = 'tru_s' order by column_index`)).map((r) => r.column_name);
    await lake.extract([prices([['a', '1', 1], ['b', '1', 2]])], { extractedAt: new Date('2026-01-01T12:00:00Z') });
    await lake.build();
    // ignore: a new column in the SQL is left out, the new rows still merge in.
    writeFiles(models, { 'trusted/tru_s.sql': model('ignore', `store, sku, price, _extracted_at, price * 2 as doubled`) });
    await lake.extract([prices([['a', '1', 5]])], { extractedAt: new Date('2026-01-02T12:00:00Z') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.tru_s')).toMatchObject({ status: 'success', rows: 2 });
    expect(await columns()).toEqual(['store', 'sku', 'price', '_extracted_at']);
    expect(await lake.query('select store, sku, price from trusted.tru_s order by all')).toEqual([
      { store: 'a', sku: '1', price: 5 },
      { store: 'b', sku: '1', price: 2 },
    ]);
    // sync_all_columns: price dropped, doubled added; store b's partition (no new rows) is rewritten too.
    writeFiles(models, { 'trusted/tru_s.sql': model('sync_all_columns', `store, sku, _extracted_at, price * 2 as doubled`) });
    await lake.extract([prices([['a', '2', 7]])], { extractedAt: new Date('2026-01-03T12:00:00Z') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.tru_s')).toMatchObject({ status: 'success', rows: 3 });
    expect(await columns()).toEqual(['store', 'sku', '_extracted_at', 'doubled']);
    expect(await lake.query('select store, sku, doubled from trusted.tru_s order by all')).toEqual([
      { store: 'a', sku: '1', doubled: null },
      { store: 'a', sku: '2', doubled: 14 },
      { store: 'b', sku: '1', doubled: null },
    ]);
  });

  it('a table reading another model through an ephemeral is rebuilt when that model changes, and when new bronze reaches it', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'trusted/tru_base.sql': `select store, sku, price from {{ ref('stg_prices') }}`,
      'trusted/eph_mid.sql': `{{ config(materialized='ephemeral') }} select * from {{ ref('tru_base') }}`,
      'trusted/eph_pos.sql': `{{ config(materialized='ephemeral') }} select * from {{ ref('stg_prices') }} where price > 0`,
      'marts/mart_total.sql': `select sum(price) as total from {{ ref('eph_mid') }}`,
      'marts/mart_n.sql': `select count(*) as n from {{ ref('eph_pos') }}`,
    });
    const status = (r: Awaited<ReturnType<typeof lake.build>>, name: string) => r.models.find((m) => m.name === name)!.status;
    await lake.extract([prices([['a', '1', 1]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.build();
    expect(await lake.query('select total from marts.mart_total')).toEqual([{ total: 1 }]);
    // The model behind the ephemeral changes.
    writeFiles(models, { 'trusted/tru_base.sql': `select store, sku, price * 10 as price from {{ ref('stg_prices') }}` });
    const changed = await lake.build();
    expect(status(changed, 'trusted.tru_base')).toBe('success');
    expect(status(changed, 'marts.mart_total')).toBe('success');
    expect(status(changed, 'marts.mart_n')).toBe('up-to-date');
    expect(await lake.query('select total from marts.mart_total')).toEqual([{ total: 10 }]);
    // New bronze behind the staging view the other ephemeral reads.
    await lake.extract([prices([['a', '2', 2]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    const fresh = await lake.build();
    expect(status(fresh, 'marts.mart_n')).toBe('success');
    expect(await lake.query('select n from marts.mart_n')).toEqual([{ n: 2 }]);
    expect(await lake.query('select total from marts.mart_total')).toEqual([{ total: 30 }]);
  });

  it('incremental merge with partition_by: a row whose partition value changes replaces its old version (the key leaves out the partition column)', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_moved.sql': `{{ config(materialized='incremental', unique_key='sku', partition_by='store') }}
        select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
        qualify row_number() over (partition by sku order by _extracted_at desc) = 1`,
    });
    const day = (d: number) => ({ extractedAt: new Date(Date.UTC(2026, 0, d, 12)) });
    await lake.extract([prices([['a', '1', 1], ['a', '2', 2], ['c', '3', 3]])], day(1));
    await lake.build();
    await lake.extract([prices([['b', '1', 5]])], day(2)); // sku 1 moves from store a to b
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.tru_moved')).toMatchObject({ status: 'success', rows: 3 });
    const incremental = await lake.query('select store, sku, price from trusted.tru_moved order by all');
    expect(incremental).toEqual([
      { store: 'a', sku: '2', price: 2 },
      { store: 'b', sku: '1', price: 5 },
      { store: 'c', sku: '3', price: 3 },
    ]);
    await lake.build({ fullRefresh: true });
    expect(await lake.query('select store, sku, price from trusted.tru_moved order by all')).toEqual(incremental);
  });

  it.each([
    ['added', '', `, partition_by='store'`],
    ['changed', `, partition_by='sku'`, `, partition_by='store'`],
    ['removed', `, partition_by='store'`, ''],
  ])('partition_by %s on an existing incremental merge model: the old files are rewritten, no key twice', async (_label, before, after) => {
    const model = (p: string) => `{{ config(materialized='incremental', unique_key='sku'${p}) }}
      select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
      {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ ...STG, 'trusted/tru_x.sql': model(before) });
    await lake.extract([prices([['a', '1', 1], ['b', '2', 2]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.build();
    writeFiles(models, { 'trusted/tru_x.sql': model(after) });
    await lake.extract([prices([['a', '1', 5]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.tru_x')).toMatchObject({ status: 'success', rows: 2 });
    expect(await lake.query('select store, sku, price from trusted.tru_x order by all')).toEqual([
      { store: 'a', sku: '1', price: 5 },
      { store: 'b', sku: '2', price: 2 },
    ]);
    const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 'tru_x'`);
    const files = [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => m[1]!);
    for (const f of files) expect(f.includes(`${path.sep}store=`)).toBe(after !== '');
  });

  it("incremental merge with partition_by and unique_key spelled in another case than the model's columns rewrites only the partitions its new rows touch", async () => {
    // DuckDB's names are case-insensitive: partition_by='S' is the column s, whose folders are s=….
    const model = `{{ config(materialized='incremental', unique_key='K', partition_by='S') }}
      select k, s from {{ ref('src') }} {% if is_incremental() %} where k > (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s\n1,a\n2,b\n', 'trusted/tru_case.sql': model });
    expect((await lake.build()).status).toBe('success');
    const filesOf = async (s: string) => {
      const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 'tru_case'`);
      return [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => m[1]!).filter((f) => f.includes(`${path.sep}s=${s}${path.sep}`));
    };
    const bBefore = await filesOf('b');
    expect(bBefore).toHaveLength(1);
    writeFiles(models, { 'seeds/src.csv': 'k,s\n1,a\n2,b\n3,a\n' });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.tru_case')).toMatchObject({ status: 'success', rows: 3 });
    expect(await filesOf('b')).toEqual(bBefore);
    expect(await lake.query('select k, s from trusted.tru_case order by k')).toEqual([
      { k: 1, s: 'a' },
      { k: 2, s: 'b' },
      { k: 3, s: 'a' },
    ]);
  });

  it('incremental merge partitioned on a column whose name DuckDB percent-encodes in the folder ("store name") rewrites only the partitions its new rows touch', async () => {
    const { lake, root } = await projectLake({
      ...STG,
      'trusted/tru_sp.sql': `{{ config(materialized='incremental', unique_key='sku', partition_by='store name') }}
        select store as "store name", sku, price, _extracted_at from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`,
    });
    const ofStore = (s: string) => listParquet(path.join(root, 'warehouse', 'trusted', 'tru_sp')).filter((f) => f.includes(`${path.sep}store%20name=${s}${path.sep}`));
    await lake.extract([prices([['a', '1', 1], ['b', '2', 2]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.build();
    const bBefore = ofStore('b');
    expect(bBefore).toHaveLength(1);
    await lake.extract([prices([['a', '1', 5]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.tru_sp')).toMatchObject({ status: 'success', rows: 2 });
    // Store b had no new row: its file stays (it was rewritten: the folder's encoded name read as another partition_by).
    expect(ofStore('b')).toEqual(bBefore);
    expect(await lake.query('select "store name", sku, price from trusted.tru_sp order by all')).toEqual([
      { 'store name': 'a', sku: '1', price: 5 },
      { 'store name': 'b', sku: '2', price: 2 },
    ]);
  });

  it("incremental merge keyed and partitioned on a column holding the text 'NULL' equals a full refresh", async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_n.sql': `{{ config(materialized='incremental', unique_key=['store', 'sku'], partition_by='store') }}
        select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
        qualify row_number() over (partition by store, sku order by _extracted_at desc) = 1`,
    });
    await lake.extract([prices([['NULL', '1', 1]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.build();
    await lake.extract([prices([['NULL', '1', 2]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.tru_n')).toMatchObject({ status: 'success', rows: 1 });
    expect(await lake.query('select store, sku, price from trusted.tru_n order by all')).toEqual([{ store: 'NULL', sku: '1', price: 2 }]);
  });

  it('on_schema_change: append_new_columns adds the column; fail stops with the columns named', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'trusted/inc.sql': `{{ config(materialized='incremental', unique_key=['sku']) }} select sku, price from {{ ref('stg_prices') }}`,
    });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.build();
    writeFiles(models, { 'trusted/inc.sql': `{{ config(materialized='incremental', unique_key=['sku']) }} select sku, price, store from {{ ref('stg_prices') }}` });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.inc')!.status).toBe('success');
    expect(await lake.query('select sku, price, store from trusted.inc')).toEqual([{ sku: '1', price: 1, store: 'a' }]);
    writeFiles(models, { 'trusted/inc.sql': `{{ config(materialized='incremental', unique_key=['sku'], on_schema_change='fail') }} select sku, price, store, 1 as extra from {{ ref('stg_prices') }}` });
    const failed = await lake.build();
    const model = failed.models.find((m) => m.name === 'trusted.inc')!;
    expect(model.status).toBe('error');
    expect(model.error).toMatch(/added: extra.*on_schema_change is 'fail'/);
  });
});

describe('lake.build results', () => {
  it('is up-to-date when nothing changed, and rebuilds exactly what new bronze or SQL touches', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'staging/stg_other.sql': `select 1 as x`,
      'marts/a.sql': `select count(*) as n from {{ ref('stg_prices') }}`,
      'marts/b.sql': `select x from {{ ref('stg_other') }}`,
    });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.build();
    const before = fs.statSync(lake.paths.analytics).ino;
    const again = await lake.build();
    expect(again.models.map((m) => m.status)).toEqual(['up-to-date', 'up-to-date', 'up-to-date', 'up-to-date']);
    expect(fs.statSync(lake.paths.analytics).ino).toBe(before); // nothing to publish
    await lake.extract([prices([['a', '2', 1]])]);
    const afterExtract = await lake.build();
    expect(Object.fromEntries(afterExtract.models.map((m) => [m.name, m.status]))).toEqual({
      'staging.stg_prices': 'success',
      'staging.stg_other': 'up-to-date',
      'marts.a': 'success',
      'marts.b': 'up-to-date',
    });
    writeFiles(models, { 'marts/b.sql': `select x + 1 as x from {{ ref('stg_other') }}` });
    const afterEdit = await lake.build();
    expect(afterEdit.models.filter((m) => m.status === 'success').map((m) => m.name)).toEqual(['marts.b']);
    const builds = await lake.metrics.select(`select count(*) as n from model_builds where run_id = $1`, [afterEdit.runId]);
    expect(builds[0]!.n).toBe(4);
  });

  it('a failing model reports its file and DuckDB message; downstream is skipped with the cause; the rest is published', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/broken.sql': `select no_such_column from {{ ref('stg_prices') }}`,
      'marts/after_broken.sql': `select * from {{ ref('broken') }}`,
      'marts/fine.sql': `select count(*) as n from {{ ref('stg_prices') }}`,
    });
    await lake.extract([prices([['a', '1', 1]])]);
    const r = await lake.build();
    expect(r.status).toBe('partial');
    const broken = r.models.find((m) => m.name === 'trusted.broken')!;
    expect(broken.status).toBe('error');
    expect(broken.error).toContain('model trusted.broken (models/trusted/broken.sql)');
    expect(broken.error).toMatch(/no_such_column/);
    expect(r.models.find((m) => m.name === 'marts.after_broken')).toMatchObject({ status: 'skipped', skippedBecause: expect.stringContaining('trusted.broken') });
    expect(await lake.query('select n from marts.fine')).toEqual([{ n: 1 }]);
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: 'build', status: 'partial' });
  });

  it.each([
    ['a cycle', { 'staging/a.sql': `select * from {{ ref('b') }}`, 'staging/b.sql': `select * from {{ ref('a') }}` }, /cycle: staging\.a → staging\.b → staging\.a/],
    ['an unknown ref', { 'marts/orders.sql': `select * from {{ ref('stg_ordrs') }}`, 'staging/stg_orders.sql': 'select 1 as x' }, /model marts\.orders \(models\/marts\/orders\.sql\): ref\('stg_ordrs'\) not found — did you mean stg_orders\?/],
    ['a Jinja syntax error', { 'staging/bad.sql': `select {{ ref('x' }}` }, /models\/staging\/bad\.sql/],
    ['bad YAML', { 'staging/x.sql': 'select 1 as a', 'staging/_s.yml': 'models:\n  - name: x\n   columns: [' }, /models\/staging\/_s\.yml/],
    ['duplicate names', { 'staging/x.sql': 'select 1 as a', 'marts/x.sql': 'select 2 as a' }, /models\/marts\/x\.sql.*models\/staging\/x\.sql|models\/staging\/x\.sql.*models\/marts\/x\.sql/],
    ['an unknown materialization', { 'staging/x.sql': `{{ config(materialized='tabel') }} select 1 as a` }, /materialized/],
    ['merge without unique_key', { 'staging/x.sql': `{{ config(materialized='incremental', incremental_strategy='merge') }} select 1 as a` }, /unique_key/],
  ])('refuses %s with an error naming the file, and leaves the published catalog intact', async (_label, files, message) => {
    const { lake, models } = await projectLake({ 'marts/ok.sql': 'select 42 as answer' });
    await lake.build();
    writeFiles(models, files as Record<string, string>);
    const error = await lake.build().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ModelError);
    expect(error!.message).toMatch(message);
    expect(await lake.query('select answer from marts.ok')).toEqual([{ answer: 42 }]);
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: 'build', status: 'failed' });
  });

  it('selectors build only what they name', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/t.sql': `select * from {{ ref('stg_prices') }}`,
      'marts/m1.sql': `select count(*) as n from {{ ref('t') }}`,
      'marts/m2.sql': `select 1 as one`,
    });
    await lake.extract([prices([['a', '1', 1]])]);
    const alone = await lake.build({ select: ['t'] });
    expect(alone.models.map((m) => [m.name, m.status, m.skippedBecause])).toEqual([['trusted.t', 'skipped', 'staging.stg_prices: not built']]);
    const up = await lake.build({ select: ['+m1'] });
    expect(up.models.map((m) => m.name)).toEqual(['staging.stg_prices', 'trusted.t', 'marts.m1']);
    const layer = await lake.build({ select: ['layer:marts'] });
    expect(layer.models.map((m) => m.name).sort()).toEqual(['marts.m1', 'marts.m2']);
    await expect(lake.build({ select: ['m3'] })).rejects.toThrow(/m3/);
  });
});
