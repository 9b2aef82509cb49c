import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { ConfigError, DuckhouseError, Lakehouse } from '../../src/index.js';
import { modelsProject, projectLake } from '../helpers/models.js';
import { registerCleanup, tempDir } from '../helpers/temp-lake.js';

/** `name type` of every column of a Parquet file, read by a DuckDB of its own. */
async function parquetColumns(file: string): Promise<{ name: string; type: string }[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const rows = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file.replace(/'/g, "''")}')`)).getRowObjectsJS();
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

// One row per type a mart typically holds (money DECIMAL, *_at TIMESTAMPTZ, *_sp TIMESTAMP, *_date DATE).
const wide = `
select * from (values
  (1, 10::BIGINT, 2::SMALLINT, 0.5::DOUBLE, 9.99::DECIMAL(18,2), 12345678901234567890::HUGEINT, DATE '2026-11-20',
   TIMESTAMPTZ '2026-11-20 12:00:00.123456+00', TIMESTAMP '2026-11-20 09:00:00.123456', true, 'bistek', ['a', 'b'], {'ean': '789', 'qty': 2}),
  (2, NULL, NULL, NULL, 0.01::DECIMAL(18,2), NULL, NULL, NULL, NULL, false, 'giassi', [], NULL)
) t(id, n, small, ratio, price, big, price_date, captured_at, captured_sp, on_promotion, store, tags, pack)
`;

const wideColumns = [
  { name: 'id', type: 'INTEGER' },
  { name: 'n', type: 'BIGINT' },
  { name: 'small', type: 'SMALLINT' },
  { name: 'ratio', type: 'DOUBLE' },
  { name: 'price', type: 'DECIMAL(18,2)' },
  { name: 'big', type: 'DOUBLE' }, // HUGEINT is stored in Parquet as DOUBLE (built tables are Parquet already)
  { name: 'price_date', type: 'DATE' },
  { name: 'captured_at', type: 'TIMESTAMP WITH TIME ZONE' },
  { name: 'captured_sp', type: 'TIMESTAMP' },
  { name: 'on_promotion', type: 'BOOLEAN' },
  { name: 'store', type: 'VARCHAR' },
  { name: 'tags', type: 'VARCHAR[]' },
  { name: 'pack', type: 'STRUCT(ean VARCHAR, qty INTEGER)' },
];

describe('Parquet exports and their DDL', () => {
  it('exports a mart into a folder of its own, records it, and the file reads back equal to the table', async () => {
    const { lake, root } = await projectLake({ 'marts/wide.sql': wide, 'marts/by_store.sql': `select store, count(*) as n from {{ ref('wide') }} group by store` });
    expect((await lake.build()).status).toBe('success');

    const out = await lake.exportTable('marts.wide', { format: 'parquet' });
    expect(out.path).toBe(path.join(root, 'exports', 'marts.wide', 'marts.wide.parquet'));
    expect(out.rows).toBe(2);
    expect(out.bytes).toBe(fs.statSync(out.path).size);
    expect(fs.readdirSync(path.dirname(out.path))).toEqual(['marts.wide.parquet']);

    // Read back: same columns and types, same rows and values.
    expect(await parquetColumns(out.path)).toEqual(wideColumns);
    const fromTable = await lake.query('select * from marts.wide order by id');
    const fromFile = await lake.query('select * from read_parquet(?) order by id', [out.path]);
    expect(fromFile).toEqual(fromTable);
    expect(fromFile[0]).toMatchObject({ id: 1, price: 9.99, store: 'bistek', tags: ['a', 'b'], pack: { ean: '789', qty: 2 }, captured_at: new Date('2026-11-20T12:00:00.123Z') });
    const [diff] = await lake.query<{ n: number }>(
      'select count(*) as n from ((select * from marts.wide except all select * from read_parquet(?)) union all (select * from read_parquet(?) except all select * from marts.wide))',
      [out.path, out.path],
    );
    expect(diff!.n).toBe(0);

    // The record export-ddl reads.
    const record = JSON.parse(fs.readFileSync(path.join(root, 'state', 'exports', 'marts.wide.json'), 'utf8'));
    // The file is relative to the lake root, so a moved lake still finds it.
    expect(record).toMatchObject({ table: 'marts.wide', format: 'parquet', file: 'exports/marts.wide/marts.wide.parquet', rows: 2, bytes: out.bytes, columns: wideColumns });
    expect(Date.parse(record.exportedAt)).not.toBeNaN();

    // CSV exports are not external tables: nothing recorded, and the default target stays flat.
    const csv = await lake.exportTable('marts.by_store', { format: 'csv' });
    expect(csv.path).toBe(path.join(root, 'exports', 'marts.by_store.csv'));
    expect(fs.readFileSync(csv.path, 'utf8').trim().split('\n').sort()).toEqual(['bistek,1', 'giassi,1', 'store,n']);
    expect(fs.readdirSync(path.join(root, 'state', 'exports'))).toEqual(['marts.wide.json']);
  });

  it('export-ddl declares each exported mart at its folder with the file column types, for each engine', async () => {
    const { lake, root } = await projectLake({ 'marts/wide.sql': wide });
    expect((await lake.build()).status).toBe('success');
    await lake.exportTable('marts.wide', { format: 'parquet' });
    const dir = path.join(root, 'exports', 'marts.wide');

    expect(await lake.exportDdl({ engine: 'spark' })).toBe(`CREATE TABLE IF NOT EXISTS \`marts\`.\`wide\` (
  \`id\` INT,
  \`n\` BIGINT,
  \`small\` SMALLINT,
  \`ratio\` DOUBLE,
  \`price\` DECIMAL(18,2),
  \`big\` DOUBLE,
  \`price_date\` DATE,
  \`captured_at\` TIMESTAMP,
  \`captured_sp\` TIMESTAMP_NTZ,
  \`on_promotion\` BOOLEAN,
  \`store\` STRING,
  \`tags\` ARRAY<STRING>,
  \`pack\` STRUCT<\`ean\`: STRING, \`qty\`: INT>
)
USING PARQUET
LOCATION '${dir}';
`);

    expect(await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake' })).toBe(`-- Trino (Hive connector): DuckDB writes microsecond timestamps, so the hive catalog needs
-- hive.timestamp-precision=MICROSECONDS; TIMESTAMPTZ columns read as TIMESTAMP(6) in UTC.

CREATE TABLE IF NOT EXISTS hive."marts"."wide" (
  "id" INTEGER,
  "n" BIGINT,
  "small" SMALLINT,
  "ratio" DOUBLE,
  "price" DECIMAL(18,2),
  "big" DOUBLE,
  "price_date" DATE,
  "captured_at" TIMESTAMP(6),
  "captured_sp" TIMESTAMP(6),
  "on_promotion" BOOLEAN,
  "store" VARCHAR,
  "tags" ARRAY(VARCHAR),
  "pack" ROW("ean" VARCHAR, "qty" INTEGER)
)
WITH (
  format = 'PARQUET',
  external_location = 's3://bucket/lake/exports/marts.wide'
);
`);

    expect(await lake.exportDdl({ engine: 'athena', locationPrefix: 's3://bucket/lake' })).toBe(`CREATE EXTERNAL TABLE IF NOT EXISTS \`marts\`.\`wide\` (
  \`id\` int,
  \`n\` bigint,
  \`small\` smallint,
  \`ratio\` double,
  \`price\` decimal(18,2),
  \`big\` double,
  \`price_date\` date,
  \`captured_at\` timestamp,
  \`captured_sp\` timestamp,
  \`on_promotion\` boolean,
  \`store\` string,
  \`tags\` ARRAY<string>,
  \`pack\` STRUCT<\`ean\`: string, \`qty\`: int>
)
STORED AS PARQUET
LOCATION 's3://bucket/lake/exports/marts.wide/';
`);
  });

  it('bronze and exports come out together; the latest export of a table wins; shared, missing and untypeable exports are called out', async () => {
    const { lake, root } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'marts/by_store.sql': `select store, count(*)::INTEGER as skus, sum(price)::DECIMAL(18,2) as total from {{ ref('stg_prices') }} group by store`,
      'marts/waits.sql': `select 1 as id, INTERVAL 2 DAY as wait`,
    });
    const { defineSource, z } = await import('../../src/index.js');
    const prices = defineSource({
      source: 'shop',
      dataset: 'prices',
      partitionBy: ['store'],
      schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
      extract: () => [[{ store: 'a', sku: '1', price: 1.5 }, { store: 'b', sku: '2', price: 2 }]],
    });
    expect((await lake.extract([prices])).status).toBe('success');
    expect((await lake.build()).status).toBe('success');

    await lake.exportTable('marts.by_store', { format: 'parquet' });
    const shared = path.join(path.dirname(root), 'out');
    const moved = await lake.exportTable('marts.by_store', { format: 'parquet', to: path.join(shared, 'by_store.parquet') });
    expect(fs.readdirSync(path.join(root, 'state', 'exports'))).toEqual(['marts.by_store.json']);

    let spark = await lake.exportDdl({ engine: 'spark' });
    // Bronze first (schema bronze), then the export (its own schema) at its latest location.
    expect(spark.indexOf('CREATE TABLE IF NOT EXISTS `bronze`.`shop_prices` (')).toBeGreaterThanOrEqual(0);
    expect(spark.indexOf('CREATE TABLE IF NOT EXISTS `marts`.`by_store` (')).toBeGreaterThan(spark.indexOf('`bronze`.`shop_prices`'));
    expect(spark).toContain(`  \`skus\` INT,\n  \`total\` DECIMAL(18,2)\n)\nUSING PARQUET\nLOCATION '${shared}';\n`);
    expect(spark).not.toContain(path.join(root, 'exports', 'marts.by_store'));
    expect(spark).not.toContain('warning');

    // Another file next to it would be read as part of the table: said before the statement.
    fs.writeFileSync(path.join(shared, 'notes.csv'), 'x\n');
    fs.writeFileSync(path.join(shared, '_SUCCESS'), ''); // hidden files are skipped by every engine
    spark = await lake.exportDdl({ engine: 'spark' });
    expect(spark).toContain(`-- warning: ${shared} also holds notes.csv; marts.by_store would read those too: export it into a folder of its own\nCREATE TABLE IF NOT EXISTS \`marts\`.\`by_store\` (`);

    // Outside the root, a location prefix cannot apply: the local path stays, with a note.
    const trino = await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake' });
    expect(trino).toContain("external_location = 's3://bucket/lake/bronze/shop/prices'");
    expect(trino).toContain(`-- note: ${moved.path} is outside the lake root, so its location keeps the local path`);
    expect(trino).toContain(`external_location = '${shared}'\n);`);

    // A deleted export is skipped, not declared.
    fs.rmSync(moved.path);
    const athena = await lake.exportDdl({ engine: 'athena' });
    expect(athena).toContain(`-- skipped marts.by_store: its Parquet export ${moved.path} no longer exists (export it again)`);
    expect(athena).not.toContain('TABLE IF NOT EXISTS `marts`.`by_store`');
    expect(athena).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `bronze`.`shop_prices` (');

    // A type no engine here can declare: the export works, export-ddl names table, column and type.
    const waits = await lake.exportTable('marts.waits', { format: 'parquet' });
    expect(await parquetColumns(waits.path)).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'wait', type: 'INTERVAL' },
    ]);
    await expect(lake.exportDdl({ engine: 'spark' })).rejects.toThrow('export-ddl: marts.waits column "wait": no spark type for DuckDB type INTERVAL');
  });
});

describe('exportTable with a `to` that cannot be a file', () => {
  it('a `to` that is a folder (or lies under a file) is a ConfigError naming it, before anything is written or recorded', async () => {
    const { lake, root } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const folder = path.join(tempDir(), 'reports');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'keep.txt'), 'mine');
    for (const format of ['csv', 'parquet'] as const) {
      // Was "ENOTEMPTY: directory not empty, rename '…/.tmp/…/export-…-reports' -> '…/reports'" (or EISDIR), naming lake internals.
      const error = (await lake.exportTable('marts.kv', { format, to: folder }).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`lake.exportTable: option "to" ${JSON.stringify(folder)} is a folder: name the file to write, e.g. ${JSON.stringify(path.join(folder, `marts.kv.${format}`))}`);
    }
    const under = path.join(folder, 'keep.txt', 'kv.csv');
    await expect(lake.exportTable('marts.kv', { format: 'csv', to: under })).rejects.toThrow(`lake.exportTable: option "to" ${JSON.stringify(under)} lies under ${JSON.stringify(path.join(folder, 'keep.txt'))}, which is a file`);
    expect(fs.readdirSync(folder)).toEqual(['keep.txt']);
    expect(fs.readFileSync(path.join(folder, 'keep.txt'), 'utf8')).toBe('mine');
    expect(fs.existsSync(path.join(root, 'state', 'exports'))).toBe(false);
  });
});

describe('exportTable with a `to` that is not a string', () => {
  it('is a ConfigError naming the option and the value (was path.resolve\'s TypeError naming "paths[0]")', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    for (const to of [5, null, { path: 'x.csv' }]) {
      const error = (await lake.exportTable('marts.kv', { format: 'csv', to: to as never }).catch((e: unknown) => e)) as Error;
      expect(error, JSON.stringify(to)).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`lake.exportTable: option "to" must be a file path string (got ${JSON.stringify(to)})`);
    }
  });
});

describe('exportTable with a `to` naming a folder by its trailing separator', () => {
  it('is a ConfigError naming it, and nothing is written there (a file was written under the folder\'s name)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const folder = path.join(tempDir(), 'exports');
    const error = (await lake.exportTable('marts.kv', { format: 'csv', to: `${folder}${path.sep}` }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`lake.exportTable: option "to" ${JSON.stringify(`${folder}${path.sep}`)} is a folder: name the file to write, e.g. ${JSON.stringify(path.join(folder, 'marts.kv.csv'))}`);
    expect(fs.existsSync(folder)).toBe(false);
  });
});

describe('exportTable failing while it writes', () => {
  const failure = async (lake: Lakehouse, table: string, to: string): Promise<DuckhouseError> => {
    const error = await lake.exportTable(table, { format: 'csv', to }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuckhouseError);
    return error as DuckhouseError;
  };

  it('a view that fails when read (a cast its rows do not pass) is EXPORT_FAILED naming the table, the target and DuckDB\'s reason; nothing is written', async () => {
    const { lake, root } = await projectLake({ 'seeds/src.csv': 'v\n1\nbad\n', 'staging/v.sql': `select v::INTEGER as v from {{ ref('src') }}` });
    expect((await lake.build()).status).toBe('success');
    const to = path.join(tempDir(), 'v.csv');
    const error = await failure(lake, 'staging.v', to);
    expect(error.code).toBe('EXPORT_FAILED');
    expect(error.message).toMatch(new RegExp(`^lake\\.exportTable: staging\\.v to ${JSON.stringify(to).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*Could not convert string 'bad'`, 's'));
    expect(fs.existsSync(to)).toBe(false);
    expect(fs.readdirSync(path.join(root, '.tmp')).filter((f) => f.startsWith('export-'))).toEqual([]);
  });

  it('a target whose file name is too long for the file system is EXPORT_FAILED naming the table and the target', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const to = path.join(tempDir(), `${'k'.repeat(300)}.csv`);
    const error = await failure(lake, 'marts.kv', to);
    expect(error.code).toBe('EXPORT_FAILED');
    expect(error.message.startsWith(`lake.exportTable: marts.kv to ${JSON.stringify(to)}: `)).toBe(true);
    expect(fs.existsSync(path.dirname(to)) ? fs.readdirSync(path.dirname(to)) : []).toEqual([]);
  });
});

describe('exportTable to a file whose name is near the file system\'s limit', () => {
  it('writes it: the temp file\'s name does not grow with the target\'s (a 250-character name failed as too long)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    for (const format of ['csv', 'parquet'] as const) {
      const to = path.join(tempDir(), `${'k'.repeat(250 - format.length)}.${format}`);
      expect(path.basename(to)).toHaveLength(251);
      expect(await lake.exportTable('marts.kv', { format, to })).toMatchObject({ path: to, rows: 1 });
      expect(fs.statSync(to).size).toBeGreaterThan(0);
    }
  });
});

describe('exportTable to another file system, to a name near its limit', () => {
  // /dev/shm is a tmpfs; the lake (its temp folder) is under os.tmpdir(), on the root file system here.
  const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;
  const crossDevice = shm !== undefined && fs.statSync(shm).dev !== fs.statSync(os.tmpdir()).dev;
  it.skipIf(!crossDevice)('writes it: the copy beside the target is not named after it (was EXPORT_FAILED, ENAMETOOLONG on <name>.<pid>.tmp)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const dir = fs.mkdtempSync(path.join(shm!, 'duckhouse-export-'));
    registerCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
    const to = path.join(dir, `${'k'.repeat(251)}.csv`);
    expect(await lake.exportTable('marts.kv', { format: 'csv', to })).toMatchObject({ path: to, rows: 1 });
    expect(fs.readFileSync(to, 'utf8')).toBe('k,v\nx,1\n');
    expect(fs.readdirSync(dir)).toEqual([path.basename(to)]);
  });
});

describe('exportTable with a `to` among the lake\'s own files', () => {
  it('is a ConfigError naming it, and the lake is untouched (an export to analytics.duckdb replaced the warehouse with CSV text)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const own = [lake.paths.analytics, `${lake.paths.analytics}.wal`, lake.paths.metrics, path.join(lake.paths.bronze, 'x.csv'), path.join(lake.paths.state, 'exports', 'marts.kv.json'), path.join(lake.paths.warehouse, 'kv.parquet'), path.join(lake.paths.models, 'marts', 'kv.sql')];
    const contents = (): (string | null)[] => own.map((f) => (fs.existsSync(f) ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : null));
    const before = contents();
    for (const to of own) {
      const error = (await lake.exportTable('marts.kv', { format: 'csv', to }).catch((e: unknown) => e)) as Error;
      expect(error, to).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^lake\.exportTable: option "to" ".*" is one of the lake's own files \(.*\): export outside them, e.g\. to .*exports/);
    }
    expect(contents()).toEqual(before);
    expect(await lake.query('select * from marts.kv')).toEqual([{ k: 'x', v: 1 }]);
    // The exports folder and the rest of the root stay open to exports.
    expect((await lake.exportTable('marts.kv', { format: 'csv', to: path.join(lake.paths.root, 'kv.csv') })).rows).toBe(1);
  });
});

describe('exportTable with a `to` among the files the lake writes at its root', () => {
  it('is a ConfigError naming it, and they are untouched (an export replaced lineage.json, lineage.mmd, the report, the SQL prompt\'s history or a raw archive with CSV text)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    await lake.report();
    // The history `duckhouse sql` keeps; a raw archive's file, as archiveRaw writes them.
    fs.writeFileSync(path.join(lake.paths.root, '.sql_history'), 'select 1;\n');
    const raw = path.join(lake.paths.root, 'raw', 'shop', 'orders', 'year=2026', 'month=01', 'day=10', 'r-1.ndjson.gz');
    fs.mkdirSync(path.dirname(raw), { recursive: true });
    fs.writeFileSync(raw, 'archived');
    const own = ['lineage.json', 'lineage.mmd', 'report.html', '.sql_history'].map((f) => path.join(lake.paths.root, f));
    own.push(raw, path.join(lake.paths.root, 'raw', 'kv.csv'));
    const contents = (): (string | null)[] => own.map((f) => (fs.existsSync(f) ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : null));
    const before = contents();
    expect(before.slice(0, 5).every((c) => c !== null)).toBe(true);
    for (const to of own) {
      const error = (await lake.exportTable('marts.kv', { format: 'csv', to }).catch((e: unknown) => e)) as Error;
      expect(error, to).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^lake\.exportTable: option "to" ".*" is one of the lake's own files \(.*\): export outside them, e\.g\. to .*exports/);
    }
    expect(contents()).toEqual(before);
  });
});

describe('exportTable with a `to` reaching the lake\'s own files through a symbolic link', () => {
  it('is a ConfigError naming it, and the catalog is untouched (the export replaced analytics.duckdb with CSV text)', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v` });
    expect((await lake.build()).status).toBe('success');
    const link = path.join(tempDir(), 'lake-link');
    fs.symlinkSync(lake.paths.root, link);
    const before = createHash('sha256').update(fs.readFileSync(lake.paths.analytics)).digest('hex');
    for (const to of [path.join(link, 'analytics.duckdb'), path.join(link, 'warehouse', 'kv.csv')]) {
      const error = (await lake.exportTable('marts.kv', { format: 'csv', to }).catch((e: unknown) => e)) as Error;
      expect(error, to).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^lake\.exportTable: option "to" ".*" is one of the lake's own files/);
    }
    expect(createHash('sha256').update(fs.readFileSync(lake.paths.analytics)).digest('hex')).toBe(before);
    expect(await lake.query('select * from marts.kv')).toEqual([{ k: 'x', v: 1 }]);
    // Elsewhere under the link is the root's own folder, open to exports as it is.
    expect((await lake.exportTable('marts.kv', { format: 'csv', to: path.join(link, 'kv.csv') })).rows).toBe(1);
  });
});

describe('export-ddl comment lines hold file names as they are', () => {
  /** The lines of DDL that are neither comments nor inside a string literal ('' or \' escapes). */
  const statements = (ddl: string): string[] => ddl.replace(/'(?:[^'\\]|''|\\.)*'/g, "'…'").split('\n').filter((line) => !line.startsWith('-- '));

  it('a newline in a file or folder name stays inside its -- line (the rest of the name was a statement of the DDL)', async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': `select 1 as id` });
    expect((await lake.build()).status).toBe('success');
    const dir = path.join(path.dirname(root), 'out\nDROP TABLE hive.marts.orders; --');
    const out = await lake.exportTable('marts.m', { format: 'parquet', to: path.join(dir, 'm.parquet') });
    fs.writeFileSync(path.join(dir, 'notes\nDROP TABLE hive.marts.customers; --.csv'), 'x\n');
    const trino = await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://bucket/lake' });
    expect(statements(trino).filter((line) => line.includes('DROP'))).toEqual([]);
    expect(trino).toContain(`-- warning: ${dir.replace('\n', '\\n')} also holds notes\\nDROP TABLE hive.marts.customers; --.csv; marts.m would read those too`);
    expect(trino).toContain(`-- note: ${out.path.replace('\n', '\\n')} is outside the lake root`);
    fs.rmSync(out.path);
    const spark = await lake.exportDdl({ engine: 'spark' });
    expect(statements(spark).filter((line) => line.includes('DROP'))).toEqual([]);
    expect(spark).toContain(`-- skipped marts.m: its Parquet export ${out.path.replace('\n', '\\n')} no longer exists`);
  });
});

describe('Parquet exports of a lake moved to another folder (a bigger machine)', () => {
  it('export-ddl declares an export made inside the lake at its new place, not "-- skipped" as gone', async () => {
    const p = modelsProject({ 'marts/by_store.sql': `select 'a' as store, 1 as n` });
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    expect((await lake.build()).status).toBe('success');
    await lake.exportTable('marts.by_store', { format: 'parquet' });
    await lake.close();

    const moved = path.join(tempDir(), 'srv');
    fs.renameSync(p.dir, moved);
    const again = await Lakehouse.open({ root: path.join(moved, 'data'), models: path.join(moved, 'models'), log: { console: false } });
    registerCleanup(() => again.close());
    const ddl = await again.exportDdl({ engine: 'spark', locationPrefix: 's3://bucket/lake' });
    expect(ddl).not.toContain('skipped');
    expect(ddl).not.toContain('-- note');
    expect(ddl).toContain("LOCATION 's3://bucket/lake/exports/marts.by_store';");
  });
});

describe('export records that are JSON of another shape', () => {
  it('export-ddl names the record file and the field, not a bare TypeError', async () => {
    const { lake, root } = await projectLake({});
    const dir = path.join(root, 'state', 'exports');
    fs.mkdirSync(dir, { recursive: true });
    for (const [text, field] of [['{}', '"table"'], ['{"table":"marts.x","columns":[]}', '"file"'], ['{"table":"marts.x","file":"x.parquet"}', '"columns"'], ['null', 'the record']] as const) {
      fs.writeFileSync(path.join(dir, 'marts.x.json'), text);
      await expect(lake.exportDdl({ engine: 'spark' })).rejects.toThrow(`export-ddl: ${path.join(dir, 'marts.x.json')} is not a valid export record: ${field} is missing or wrong`);
    }
  });
});
