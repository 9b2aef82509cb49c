import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prices, projectLake, writeFiles } from '../helpers/models.js';

const STG = { 'staging/stg_prices.sql': `select store, sku, price, _extracted_at from {{ source('shop', 'prices') }}` };

describe('on_schema_change when the incremental run has no new rows', () => {
  it.each(['append_new_columns', 'sync_all_columns'])(
    '%s: a column added to the model is in the table even though no new row arrived, so a model reading it builds',
    async (onChange) => {
      const model = (columns: string) => `{{ config(materialized='incremental', unique_key='sku', on_schema_change='${onChange}') }}
        select ${columns} from {{ ref('stg_prices') }}
        {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
      const { lake, models } = await projectLake({ ...STG, 'trusted/inc.sql': model('sku, price, _extracted_at') });
      await lake.extract([prices([['a', '1', 1]])]);
      await lake.build();
      // The model gains `store`; no bronze arrived since, so the incremental branch selects nothing.
      writeFiles(models, {
        'trusted/inc.sql': model('sku, price, _extracted_at, store'),
        'marts/by_store.sql': `select store, count(*) as n from {{ ref('inc') }} group by all`,
      });
      const r = await lake.build();
      expect(r.models.find((m) => m.name === 'trusted.inc')).toMatchObject({ status: 'success', rows: 1 });
      const columns = (await lake.query(`select column_name from duckdb_columns() where schema_name = 'trusted' and table_name = 'inc' order by column_index`)).map((c) => c.column_name);
      expect(columns).toContain('store');
      // dbt adds the column to the target table (old rows NULL in it); the reader builds.
      expect(r.models.find((m) => m.name === 'marts.by_store')).toMatchObject({ status: 'success' });
      expect(r.status).toBe('success');
    },
  );

  it('a partitioned model that gained a column with no new rows merges the next new rows whole, once they come', async () => {
    const model = (columns: string) => `{{ config(materialized='incremental', unique_key='sku', partition_by=['store']) }}
      select ${columns} from {{ ref('stg_prices') }}
      {% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ ...STG, 'trusted/inc.sql': model('store, sku, price, _extracted_at') });
    await lake.extract([prices([['a', '1', 1], ['b', '2', 2]])]);
    await lake.build();
    writeFiles(models, { 'trusted/inc.sql': model(`store, sku, price, _extracted_at, price * 2 as double_price`) });
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('select sku, double_price from trusted.inc order by sku')).toEqual([
      { sku: '1', double_price: null },
      { sku: '2', double_price: null },
    ]);
    await lake.extract([prices([['a', '1', 5], ['c', '3', 3]])]);
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('select store, sku, price, double_price from trusted.inc order by sku')).toEqual([
      { store: 'a', sku: '1', price: 5, double_price: 10 },
      { store: 'b', sku: '2', price: 2, double_price: null },
      { store: 'c', sku: '3', price: 3, double_price: 6 },
    ]);
  });
});

const model = (onChange: string, columns: string) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='${onChange}') }}
select ${columns} from {{ ref('src') }}
{% if is_incremental() %} where k > (select max(k) from {{ this }}) {% endif %}`;

describe('on_schema_change with a retyped column', () => {
  it('append_new_columns (the default): a column retyped DATE → BIGINT, which cannot be cast back, fails the model naming the column; its last good version still reads', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'k,v\n1,10\n2,20\n',
      'trusted/t.sql': model('append_new_columns', `k, DATE '2026-01-01' + k::INTEGER as d`),
      'marts/reader.sql': `select count(*) as n from {{ ref('t') }}`,
    });
    expect((await lake.build()).status).toBe('success');
    // The column keeps its name and changes type; one new row arrives.
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n', 'trusted/t.sql': model('append_new_columns', 'k, v as d') });
    const r = await lake.build();
    // Like dbt, append_new_columns keeps the table's types: the new rows are cast to DATE, which
    // BIGINT cannot be. A file of BIGINT would have made every read of the table fail.
    const t = r.models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/column d \(DATE in the table, BIGINT in the model's SQL\).*on_schema_change 'append_new_columns'/);
    expect(await lake.query('select k, d::VARCHAR as d from trusted.t order by k')).toEqual([
      { k: 1, d: '2026-01-02' },
      { k: 2, d: '2026-01-03' },
    ]);
  });

  it.each(['append_new_columns', 'ignore'])('%s: a retyped column whose values cast keeps the table\'s type', async (onChange) => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': model(onChange, 'k, v::VARCHAR as v') });
    await lake.build();
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n', 'trusted/t.sql': model(onChange, 'k, v::BIGINT as v') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select k, v from trusted.t order by k')).toEqual([
      { k: 1, v: '10' },
      { k: 2, v: '20' },
      { k: 3, v: '30' },
    ]);
  });

  it('sync_all_columns: the table takes the new type of a retyped column (the old rows are rewritten anyway)', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'k,v\n1,10\n2,20\n',
      'trusted/t.sql': model('sync_all_columns', 'k, v::VARCHAR as v'),
    });
    await lake.build();
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n', 'trusted/t.sql': model('sync_all_columns', 'k, v::BIGINT as v') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    // dbt: sync_all_columns "is inclusive of data type changes".
    expect(await lake.query(`select data_type from duckdb_columns() where schema_name = 'trusted' and table_name = 't' and column_name = 'v'`)).toEqual([{ data_type: 'BIGINT' }]);
    expect(await lake.query('select k, v from trusted.t order by k')).toEqual([
      { k: 1, v: 10 },
      { k: 2, v: 20 },
      { k: 3, v: 30 },
    ]);
  });
});

describe('an incremental merge failing after it wrote its new rows', () => {
  it('sync_all_columns whose old rows do not cast to the new type: the model fails and the new rows\' file goes with it (only the published files stay)', async () => {
    const { lake, models, root } = await projectLake({ 'seeds/src.csv': 'k,v\n1,a\n2,b\n', 'trusted/t.sql': model('sync_all_columns', 'k, v') });
    await lake.build();
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,a\n2,b\n3,7\n', 'trusted/t.sql': model('sync_all_columns', 'k, v::INTEGER as v') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/column v \(VARCHAR in the table, INTEGER in the model's SQL\).*Could not convert string 'a'/s);
    const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 't'`);
    const published = [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => path.basename(m[1]!));
    const dir = path.join(root, 'warehouse', 'trusted', 't');
    expect((fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet'))).toEqual(published);
    expect(await lake.query('select k, v from trusted.t order by k')).toEqual([
      { k: 1, v: 'a' },
      { k: 2, v: 'b' },
    ]);
  });

  it('partitioned: the partition folders of the new rows go too, as a later build\'s sweep removed them (only the published files\' folders stay)', async () => {
    const partitioned = (columns: string) => model('sync_all_columns', columns).replace("on_schema_change=", "partition_by='k', on_schema_change=");
    // One old value does not cast: with two, in two partition files, either could fail first
    // (DuckDB reads the files in parallel), and CI once saw 'b' where 'a' was expected.
    const { lake, models, root } = await projectLake({ 'seeds/src.csv': 'k,v\n1,a\n2,5\n', 'trusted/t.sql': partitioned('k, v') });
    await lake.build();
    const dir = path.join(root, 'warehouse', 'trusted', 't');
    const tree = () => (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
    const before = tree();
    expect(before.filter((f) => f.endsWith('.parquet'))).toHaveLength(2);
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,a\n2,5\n3,7\n', 'trusted/t.sql': partitioned('k, v::INTEGER as v') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/column v \(VARCHAR in the table, INTEGER in the model's SQL\).*Could not convert string 'a'/s);
    expect(tree()).toEqual(before);
  });
});

describe('on_schema_change with a column whose name changes only in case', () => {
  it('sync_all_columns keeps the old rows\' values (price and Price are one column to DuckDB)', async () => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': model('sync_all_columns', 'k, v as price') });
    await lake.build();
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n', 'trusted/t.sql': model('sync_all_columns', 'k, v as Price') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select k, price as price from trusted.t order by k')).toEqual([
      { k: 1, price: 10 },
      { k: 2, price: 20 },
      { k: 3, price: 30 },
    ]);
  });

  it('ignore keeps the new rows\' values of a column the table has', async () => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': model('ignore', 'k, v as price') });
    await lake.build();
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n', 'trusted/t.sql': model('ignore', 'k, v as Price') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select k, price as price from trusted.t order by k')).toEqual([
      { k: 1, price: 10 },
      { k: 2, price: 20 },
      { k: 3, price: 30 },
    ]);
  });
});

describe('on_schema_change with a type Parquet stores as another', () => {
  // sum() of an INTEGER is a HUGEINT, an ENUM is a VARCHAR once in Parquet: the table's column is
  // the stored type, and the model's SQL, unchanged, still outputs the same one.
  const typed = (onChange: string, partitioned: boolean) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='${onChange}'${partitioned ? `, partition_by='p'` : ''}) }}
select k, 'x' as p, sum(v::INTEGER) as total, 'a'::ENUM('a', 'b') as e from {{ ref('src') }}
{% if is_incremental() %} where k > (select max(k) from {{ this }}) {% endif %} group by all`;

  it.each([false, true])("fail (partitioned: %s): an unchanged model whose SQL outputs HUGEINT and ENUM columns is no schema change", async (partitioned) => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': typed('fail', partitioned) });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n' });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    // No new row: still no change (a partitioned model's empty batch writes no file to read the types from).
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n0,0\n' });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query(`select data_type from duckdb_columns() where schema_name = 'trusted' and table_name = 't' and column_name in ('total', 'e') order by column_name`)).toEqual([
      { data_type: 'VARCHAR' },
      { data_type: 'DOUBLE' },
    ]);
    expect(await lake.query('select k, total, e from trusted.t order by k')).toEqual([
      { k: 1, total: 10, e: 'a' },
      { k: 2, total: 20, e: 'a' },
      { k: 3, total: 30, e: 'a' },
    ]);
  });
});

describe('sync_all_columns when the columns did not change', () => {
  it('a partitioned merge rewrites only the partitions its new rows fall in, and a build with no new rows writes nothing', async () => {
    const sql = `{{ config(materialized='incremental', unique_key='k', partition_by='p', on_schema_change='sync_all_columns') }}
select k, case when k % 2 = 0 then 'even' else 'odd' end as p, v from {{ ref('src') }}
{% if is_incremental() %} where k > (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': sql });
    expect((await lake.build()).status).toBe('success');
    const files = async () => {
      const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 't'`);
      return [...String(view!.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => m[1]!).sort();
    };
    const before = await files();
    const even = before.filter((f) => f.includes('p=even'));
    expect(even).toHaveLength(1);
    // k = 3 falls in p=odd only: p=even's file stays as it was.
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n' });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    const after = await files();
    expect(after.filter((f) => f.includes('p=even'))).toEqual(even);
    // No new row (k = 0 is not past max(k)): nothing is written.
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,30\n0,0\n' });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await files()).toEqual(after);
    expect(await lake.query('select k, p, v from trusted.t order by k')).toEqual([
      { k: 1, p: 'odd', v: 10 },
      { k: 2, p: 'even', v: 20 },
      { k: 3, p: 'odd', v: 30 },
    ]);
  });
});

describe('a unique_key column the table gains in the same change', () => {
  it.each(['append_new_columns', 'sync_all_columns'])('%s: the old rows hold NULL in it (no match, as in dbt), and the merge builds', async (onChange) => {
    const keyed = (key: string, columns: string) => `{{ config(materialized='incremental', unique_key=${key}, on_schema_change='${onChange}') }}
select ${columns} from {{ ref('src') }}
{% if is_incremental() %} where k >= (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s\n1,a\n2,b\n', 'trusted/t.sql': keyed(`'k'`, 'k') });
    expect((await lake.build()).status).toBe('success');
    // The key becomes (k, s), s a column the table has not got yet: its old rows are NULL in it.
    writeFiles(models, { 'seeds/src.csv': 'k,s\n1,a\n2,b\n3,c\n', 'trusted/t.sql': keyed(`['k', 's']`, 'k, s') });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 4 });
    expect(await lake.query('select k, s from trusted.t order by k, s nulls first')).toEqual([
      { k: 1, s: null },
      { k: 2, s: null },
      { k: 2, s: 'b' },
      { k: 3, s: 'c' },
    ]);
  });
  it("ignore: the new rows leave it out, so the merge cannot match on it: the model fails naming unique_key, the column and on_schema_change; its last good version stays", async () => {
    const keyed = (key: string, columns: string) => `{{ config(materialized='incremental', unique_key=${key}, on_schema_change='ignore') }}
select ${columns} from {{ ref('src') }}
{% if is_incremental() %} where k >= (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s\n1,a\n2,b\n', 'trusted/t.sql': keyed(`'k'`, 'k') });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,s\n1,a\n2,b\n3,c\n', 'trusted/t.sql': keyed(`['k', 's']`, 'k, s') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/unique_key names 's'.*on_schema_change is 'ignore'/);
    expect(t.error).not.toMatch(/Binder Error/);
    expect(await lake.query('select k from trusted.t order by k')).toEqual([{ k: 1 }, { k: 2 }]);
  });
});

describe('a partition_by column the table gains in the same change', () => {
  const parted = (onChange: string, part: string, columns: string) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='${onChange}'${part}) }}
select ${columns} from {{ ref('src') }}
{% if is_incremental() %} where k >= (select max(k) from {{ this }}) {% endif %}`;

  it('append_new_columns: the old rows go to its NULL partition, as sync_all_columns puts them', async () => {
    const onChange = 'append_new_columns';
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s\n1,a\n2,b\n', 'trusted/t.sql': parted(onChange, '', 'k') });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,s\n1,a\n2,b\n3,c\n', 'trusted/t.sql': parted(onChange, `, partition_by='s'`, 'k, s') });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select k, s from trusted.t order by k')).toEqual([
      { k: 1, s: null },
      { k: 2, s: 'b' },
      { k: 3, s: 'c' },
    ]);
  });

  it('ignore: the model fails naming partition_by, the column and on_schema_change; its last good version stays', async () => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s\n1,a\n2,b\n', 'trusted/t.sql': parted('ignore', '', 'k') });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,s\n1,a\n2,b\n3,c\n', 'trusted/t.sql': parted('ignore', `, partition_by='s'`, 'k, s') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/partition_by names 's'.*on_schema_change is 'ignore'/);
    expect(await lake.query('select k from trusted.t order by k')).toEqual([{ k: 1 }, { k: 2 }]);
  });
});

describe('sync_all_columns with a retyped unique_key column', () => {
  it.each([false, true])("matches the old rows' keys in the new type, as a full refresh would (partition_by: %s)", async (partitioned) => {
    const keyed = (columns: string) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='sync_all_columns'${partitioned ? `, partition_by='p'` : ''}) }}
select ${columns}, 'x' as p from {{ ref('src') }}
{% if is_incremental() %} where v > 20 {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,20\n', 'trusted/t.sql': keyed('k::INTEGER as k, v') });
    expect((await lake.build()).status).toBe('success');
    // k becomes text: the old 1 is '1', another key than the new '01' (DuckDB compares '01' = 1 as numbers).
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n01,30\n', 'trusted/t.sql': keyed(`case when v = 30 then '01' else k::VARCHAR end as k, v`) });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 3 });
    expect(await lake.query('select k, v from trusted.t order by k')).toEqual([
      { k: '01', v: 30 },
      { k: '1', v: 10 },
      { k: '2', v: 20 },
    ]);
  });
});
