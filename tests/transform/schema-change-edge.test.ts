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
