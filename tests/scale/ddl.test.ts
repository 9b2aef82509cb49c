import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { mapType } from '../../src/scale/ddl.js';
import { listFiles, tempLake } from '../helpers/temp-lake.js';

/** `name type` of every column of a Parquet file, as DuckDB reads it. */
async function parquetColumns(file: string): Promise<{ name: string; type: string }[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const rows = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file.replace(/'/g, "''")}', hive_partitioning = false)`)).getRowObjectsJS();
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('export-ddl', () => {
  it('maps DuckDB types, nested ones included, to each engine', () => {
    const t = 'STRUCT("itemId" VARCHAR, "sellers" STRUCT("id" VARCHAR, "price" DOUBLE)[])[]';
    expect(mapType(t, 'spark')).toBe('ARRAY<STRUCT<`itemId`: STRING, `sellers`: ARRAY<STRUCT<`id`: STRING, `price`: DOUBLE>>>>');
    expect(mapType(t, 'trino')).toBe('ARRAY(ROW("itemId" VARCHAR, "sellers" ARRAY(ROW("id" VARCHAR, "price" DOUBLE))))');
    // Trino's Hive connector refuses `timestamp with time zone` in CREATE TABLE ("Unsupported Hive type").
    expect(mapType('TIMESTAMPTZ', 'trino')).toBe('TIMESTAMP(6)');
    expect(mapType('TIMESTAMP WITH TIME ZONE', 'trino')).toBe('TIMESTAMP(6)');
    expect(mapType('DECIMAL(18,2)', 'athena')).toBe('decimal(18,2)');
    expect(() => mapType('INTERVAL', 'spark')).toThrow(/no spark type for DuckDB type INTERVAL/);
  });

  it('maps the other types a mart can hold: small ints, FLOAT, BLOB, MAP', () => {
    expect(['spark', 'trino', 'athena'].map((e) => mapType('MAP(VARCHAR, SMALLINT)', e as 'spark'))).toEqual(['MAP<STRING, SMALLINT>', 'MAP(VARCHAR, SMALLINT)', 'MAP<string, smallint>']);
    expect(['spark', 'trino', 'athena'].map((e) => mapType('FLOAT', e as 'spark'))).toEqual(['FLOAT', 'REAL', 'float']);
    expect(['spark', 'trino', 'athena'].map((e) => mapType('BLOB', e as 'spark'))).toEqual(['BINARY', 'VARBINARY', 'binary']);
    expect(['spark', 'trino', 'athena'].map((e) => mapType('TINYINT[]', e as 'spark'))).toEqual(['ARRAY<TINYINT>', 'ARRAY(TINYINT)', 'ARRAY<tinyint>']);
    expect(['spark', 'trino', 'athena'].map((e) => mapType('TIMESTAMP', e as 'spark'))).toEqual(['TIMESTAMP_NTZ', 'TIMESTAMP(6)', 'timestamp']);
  });

  it('prints a table per bronze dataset with its partitions and location', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'vtex',
      dataset: 'products',
      partitionBy: { store: 'bistek' },
      schema: z.object({ productId: z.string(), items: z.array(z.object({ itemId: z.string(), price: z.number() })) }),
      extract: () => [[{ productId: '1', items: [{ itemId: 'a', price: 1 }] }]],
    });
    await lake.extract([source]);
    const spark = await lake.exportDdl({ engine: 'spark' });
    expect(spark).toContain('CREATE TABLE IF NOT EXISTS `bronze`.`vtex_products` (');
    expect(spark).toContain('`items` ARRAY<STRUCT<`itemId`: STRING, `price`: DOUBLE>>');
    expect(spark).toContain('PARTITIONED BY (`store`, `year`, `month`, `day`)');
    expect(spark).toContain(`LOCATION '${lake.paths.bronze}/vtex/products'`);
    const trino = await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake' });
    expect(trino).toContain("external_location = 's3://bucket/lake/bronze/vtex/products'");
    expect(trino).toContain("partitioned_by = ARRAY['store', 'year', 'month', 'day']");
    expect(trino).toContain('"_extracted_at" TIMESTAMP(6)');
    expect(trino).not.toContain('WITH TIME ZONE'); // the Hive connector refuses to declare it
    const athena = await lake.exportDdl({ engine: 'athena' });
    expect(athena).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `bronze`.`vtex_products`');
    expect(athena).toContain('PARTITIONED BY (`store` string, `year` string, `month` string, `day` string)');
    await expect(lake.exportDdl({ engine: 'hive' as never })).rejects.toThrow(/option "engine" must be/);
  });

  it('prints the whole statement per engine, partition columns last and typed as strings, column types as the files hold them', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'shop',
      dataset: 'prices',
      partitionBy: ['store'],
      schema: z.object({
        store: z.string(),
        sku_id: z.string(),
        price: z.number(),
        qty: z.number().int(),
        seen_date: z.iso.date(),
        captured_at: z.iso.datetime({ offset: true }),
        tags: z.array(z.string()),
      }),
      extract: () => [[{ store: 'bistek', sku_id: '1', price: 9.9, qty: 2, seen_date: '2026-11-20', captured_at: '2026-11-20T09:00:00-03:00', tags: ['a'] }]],
    });
    expect((await lake.extract([source])).status).toBe('success');
    const location = path.join(lake.paths.bronze, 'shop', 'prices');

    // What the DDL declares is what the committed file holds (partition columns live in the path).
    const [file] = listFiles(location);
    expect(file).toMatch(/^store=bistek\/year=\d{4}\/month=\d{2}\/day=\d{2}\/.+\.parquet$/);
    expect(await parquetColumns(path.join(location, file!))).toEqual([
      { name: 'sku_id', type: 'VARCHAR' },
      { name: 'price', type: 'DOUBLE' },
      { name: 'qty', type: 'BIGINT' },
      { name: 'seen_date', type: 'DATE' },
      { name: 'captured_at', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'tags', type: 'VARCHAR[]' },
      { name: '_run_id', type: 'VARCHAR' },
      { name: '_extracted_at', type: 'TIMESTAMP WITH TIME ZONE' },
    ]);

    expect(await lake.exportDdl({ engine: 'spark' })).toBe(`CREATE TABLE IF NOT EXISTS \`bronze\`.\`shop_prices\` (
  \`sku_id\` STRING,
  \`price\` DOUBLE,
  \`qty\` BIGINT,
  \`seen_date\` DATE,
  \`captured_at\` TIMESTAMP,
  \`tags\` ARRAY<STRING>,
  \`_run_id\` STRING,
  \`_extracted_at\` TIMESTAMP,
  \`store\` STRING,
  \`year\` STRING,
  \`month\` STRING,
  \`day\` STRING
)
USING PARQUET
PARTITIONED BY (\`store\`, \`year\`, \`month\`, \`day\`)
LOCATION '${location}';
MSCK REPAIR TABLE \`bronze\`.\`shop_prices\`;
`);

    expect(await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake/', schema: 'raw' })).toBe(`-- Trino (Hive connector): DuckDB writes microsecond timestamps, so the hive catalog needs
-- hive.timestamp-precision=MICROSECONDS; TIMESTAMPTZ columns read as TIMESTAMP(6) in UTC.

CREATE TABLE IF NOT EXISTS hive."raw"."shop_prices" (
  "sku_id" VARCHAR,
  "price" DOUBLE,
  "qty" BIGINT,
  "seen_date" DATE,
  "captured_at" TIMESTAMP(6),
  "tags" ARRAY(VARCHAR),
  "_run_id" VARCHAR,
  "_extracted_at" TIMESTAMP(6),
  "store" VARCHAR,
  "year" VARCHAR,
  "month" VARCHAR,
  "day" VARCHAR
)
WITH (
  format = 'PARQUET',
  external_location = 's3://bucket/lake/bronze/shop/prices',
  partitioned_by = ARRAY['store', 'year', 'month', 'day']
);
CALL hive.system.sync_partition_metadata('raw', 'shop_prices', 'FULL');
`);

    expect(await lake.exportDdl({ engine: 'athena', locationPrefix: 's3://bucket/lake' })).toBe(`CREATE EXTERNAL TABLE IF NOT EXISTS \`bronze\`.\`shop_prices\` (
  \`sku_id\` string,
  \`price\` double,
  \`qty\` bigint,
  \`seen_date\` date,
  \`captured_at\` timestamp,
  \`tags\` ARRAY<string>,
  \`_run_id\` string,
  \`_extracted_at\` timestamp
)
PARTITIONED BY (\`store\` string, \`year\` string, \`month\` string, \`day\` string)
STORED AS PARQUET
LOCATION 's3://bucket/lake/bronze/shop/prices/';
MSCK REPAIR TABLE \`bronze\`.\`shop_prices\`;
`);
  });
});

describe('export-ddl over a dataset whose schema changed between runs', () => {
  const at = new Date('2026-03-05T15:00:00Z');
  const items = (schema: z.ZodObject<z.ZodRawShape>, rows: Record<string, unknown>[]) => defineSource({ source: 'shop', dataset: 'items', schema, extract: () => [rows] });

  it('declares the columns of every live file, as lake.bronze reads them: one only earlier runs stored too', async () => {
    const lake = await tempLake();
    await lake.extract(items(z.object({ sku: z.string(), legacy_price: z.number(), pack: z.object({ ean: z.string() }) }), [{ sku: 'a', legacy_price: 2, pack: { ean: '1' } }]), { extractedAt: at });
    await lake.extract(items(z.object({ sku: z.string(), price: z.number(), pack: z.object({ ean: z.string(), qty: z.number().int() }) }), [{ sku: 'b', price: 3, pack: { ean: '2', qty: 1 } }]), { extractedAt: at });
    const rows = await lake.bronze<Record<string, unknown>>('shop/items');
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['sku', 'legacy_price', 'price', 'pack']));
    const spark = await lake.exportDdl({ engine: 'spark' });
    expect(spark).toContain('  `sku` STRING,\n  `legacy_price` DOUBLE,\n  `pack` STRUCT<`ean`: STRING, `qty`: BIGINT>,\n  `price` DOUBLE,\n  `_run_id` STRING,');
    // A struct that gained a field reads by name everywhere (the missing field is NULL): no warning.
    expect(spark).not.toContain('warning');

    // Bronze restored without state/ (no recorded schema): still declared, keys from the folders.
    fs.rmSync(path.join(lake.paths.root, 'state', 'schemas'), { recursive: true });
    expect(await lake.exportDdl({ engine: 'spark' })).toBe(spark);
  });

  it('says before the table which column files hold in different types, and declares it as DuckDB reads them together', async () => {
    const lake = await tempLake();
    await lake.extract(items(z.object({ sku: z.string(), price: z.number().int() }), [{ sku: 'a', price: 2 }]), { extractedAt: at });
    await lake.extract(items(z.object({ sku: z.string(), price: z.string() }), [{ sku: 'b', price: '3,50' }]), { extractedAt: at });
    const trino = await lake.exportDdl({ engine: 'trino' });
    expect(trino).toContain(
      '-- warning: bronze.shop_items column "price" is BIGINT in some files and VARCHAR in others (its source changed between runs); declared as VARCHAR, as DuckDB reads them together, but trino may fail on the files of another type\nCREATE TABLE IF NOT EXISTS hive."bronze"."shop_items" (\n  "sku" VARCHAR,\n  "price" VARCHAR,',
    );
  });
});
