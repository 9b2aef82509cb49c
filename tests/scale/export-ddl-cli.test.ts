import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFiles } from '../helpers/models.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { tempDir, tempLake, tempProject } from '../helpers/temp-lake.js';

const run = runCli;

describe('duckhouse export-ddl', () => {
  it('declares bronze and the marts exported with `duckhouse export --format parquet`', () => {
    const dir = tempDir('duckhouse-cli-ddl-');
    writeFiles(path.join(dir, 'models'), {
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'marts/by_store.sql': `select store, count(*) as skus from {{ ref('stg_prices') }} group by store`,
    });
    writeCliConfig(dir, `defineSource({ source: 'shop', dataset: 'prices', partitionBy: ['store'], schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
    extract: () => [[{ store: 'a', sku: '1', price: 1 }, { store: 'b', sku: '2', price: 2 }]] })`);
    const pipeline = run(dir, ['run']);
    expect(pipeline.code, pipeline.err).toBe(0);
    const exported = run(dir, ['export', 'marts.by_store', '--format', 'parquet']);
    expect(exported.code, exported.err).toBe(0);
    const file = path.join(dir, 'data', 'exports', 'marts.by_store', 'marts.by_store.parquet');
    expect(exported.out).toContain(`2 rows → ${file}`);

    const ddl = run(dir, ['export-ddl', '--engine', 'athena', '--location-prefix', 's3://bucket/lake']);
    expect(ddl.code, ddl.err).toBe(0);
    expect(ddl.out).toContain(`PARTITIONED BY (\`store\` string, \`year\` string, \`month\` string, \`day\` string)
STORED AS PARQUET
LOCATION 's3://bucket/lake/bronze/shop/prices/';`);
    expect(ddl.out).toContain(`CREATE EXTERNAL TABLE IF NOT EXISTS \`marts\`.\`by_store\` (
  \`store\` string,
  \`skus\` bigint
)
STORED AS PARQUET
LOCATION 's3://bucket/lake/exports/marts.by_store/';`);
    expect(run(dir, ['export-ddl', '--engine', 'hive']).code).toBe(2);
    // The bronze tables' schema, as exportDdl's `schema`; the exported marts keep their own.
    const named = run(dir, ['export-ddl', '--engine', 'trino', '--schema', 'raw']);
    expect(named.code, named.err).toBe(0);
    expect(named.out).toContain('CREATE TABLE IF NOT EXISTS hive."raw"."shop_prices"');
    expect(named.out).toContain('hive."marts"."by_store"');
    expect(named.out).not.toContain('"bronze"');
    const hostile = run(dir, ['export-ddl', '--engine', 'trino', '--schema', 'raw"; drop']);
    expect(hostile.code).toBe(2);
    expect(hostile.err).toMatch(/schema.*lower-case SQL identifier/);
    expect(hostile.out).toBe('');
  }, 90_000);
});

describe('export-ddl on a lake with no bronze and no Parquet export', () => {
  it('says there is nothing to declare on stderr and prints nothing (was a lone empty line on stdout, exit 0 without a word)', async () => {
    const dir = tempProject('duckhouse-cli-ddl-');
    const r = run(dir, ['export-ddl', '--engine', 'trino']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toContain(`export-ddl: nothing to declare: no bronze dataset and no Parquet export under ${path.join(dir, 'data')}`);
    // lake.exportDdl: the empty string, no DDL (was "\n").
    expect(await (await tempLake()).exportDdl({ engine: 'spark' })).toBe('');
  }, 60_000);
});
