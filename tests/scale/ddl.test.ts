import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { mapType } from '../../src/scale/ddl.js';
import { tempLake } from '../helpers/temp-lake.js';

describe('export-ddl', () => {
  it('maps DuckDB types, nested ones included, to each engine', () => {
    const t = 'STRUCT("itemId" VARCHAR, "sellers" STRUCT("id" VARCHAR, "price" DOUBLE)[])[]';
    expect(mapType(t, 'spark')).toBe('ARRAY<STRUCT<`itemId`: STRING, `sellers`: ARRAY<STRUCT<`id`: STRING, `price`: DOUBLE>>>>');
    expect(mapType(t, 'trino')).toBe('ARRAY(ROW("itemId" VARCHAR, "sellers" ARRAY(ROW("id" VARCHAR, "price" DOUBLE))))');
    expect(mapType('TIMESTAMPTZ', 'trino')).toBe('TIMESTAMP(6) WITH TIME ZONE');
    expect(mapType('DECIMAL(18,2)', 'athena')).toBe('decimal(18,2)');
    expect(() => mapType('INTERVAL', 'spark')).toThrow(/no spark type for DuckDB type INTERVAL/);
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
    expect(spark).toContain('CREATE TABLE IF NOT EXISTS bronze.vtex_products (');
    expect(spark).toContain('`items` ARRAY<STRUCT<`itemId`: STRING, `price`: DOUBLE>>');
    expect(spark).toContain('PARTITIONED BY (`store`, `year`, `month`, `day`)');
    expect(spark).toContain(`LOCATION '${lake.paths.bronze}/vtex/products'`);
    const trino = await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake' });
    expect(trino).toContain("external_location = 's3://bucket/lake/bronze/vtex/products'");
    expect(trino).toContain("partitioned_by = ARRAY['store', 'year', 'month', 'day']");
    expect(trino).toContain('"_extracted_at" TIMESTAMP(6) WITH TIME ZONE');
    const athena = await lake.exportDdl({ engine: 'athena' });
    expect(athena).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS bronze.vtex_products');
    expect(athena).toContain('PARTITIONED BY (`store` string, `year` string, `month` string, `day` string)');
    await expect(lake.exportDdl({ engine: 'hive' as never })).rejects.toThrow(/option "engine" must be/);
  });
});
