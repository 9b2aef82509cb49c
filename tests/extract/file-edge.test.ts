/**
 * File sources at their edges: names bronze reserves or cannot tell apart, fields first seen
 * late, byte order marks, integers past 2^53, naive timestamps, timestamps' microseconds, file names
 * with glob characters.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { csvSource, jsonSource } from '../../src/extract/file-source.js';
import { z } from '../../src/index.js';
import { quarantined } from '../helpers/quarantine.js';
import { listFiles, tempDir, tempLake } from '../helpers/temp-lake.js';

function bronze(lake: { paths: { bronze: string } }, s: string, d: string): string {
  return `read_parquet('${lake.paths.bronze}/${s}/${d}/**/*.parquet', hive_partitioning = true, union_by_name = true)`;
}

function recordedColumns(lake: { paths: { root: string } }, s: string, d: string): string[] {
  const file = path.join(lake.paths.root, 'state', 'schemas', `${s}.${d}.json`);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { columns: { name: string; type: string }[] }).columns.map((c) => `${c.name} ${c.type}`);
}


describe('file sources without a schema: field names bronze cannot keep', () => {
  it('a CSV with a column named day keeps the year=/month=/day= layout: it is refused naming the field and the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'sales.csv');
    fs.writeFileSync(file, 'year,month,day,amount\n2019,3,14,10.5\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'sales', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
    expect(result.sources[0]!.error).toMatch(/"year"|"month"|"day"/);
    expect(result.sources[0]!.error).toContain(file);
    expect(result.sources[0]!.error).toMatch(/reserved/);
    // Nothing renamed into year_1=… folders.
    expect(listFiles(lake.paths.bronze).filter((f) => /year_1|month_1|day_1/.test(f))).toEqual([]);
  });

  it('a CSV column whose name is a reserved one in another case (Day) is refused too', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'sales.csv');
    fs.writeFileSync(file, 'id,Day\n1,mon\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'sales', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
    expect(result.sources[0]!.error).toMatch(/"Day".*reserved/);
  });

  it('a JSON file with _run_id or day fields is refused naming the field and the file', async () => {
    const dir = tempDir();
    const a = path.join(dir, 'a.ndjson');
    const b = path.join(dir, 'b.ndjson');
    fs.writeFileSync(a, '{"id":1,"_run_id":"x"}\n');
    fs.writeFileSync(b, '{"id":1,"day":"2024-01-01"}\n');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'a', path: a }),
      jsonSource({ source: 'shop', dataset: 'b', path: b }),
    ]);
    expect(result.sources.map((s) => s.status)).toEqual(['failed', 'failed']);
    expect(result.sources[0]!.error).toMatch(/"_run_id"/);
    expect(result.sources[0]!.error).toContain(a);
    expect(result.sources[1]!.error).toMatch(/"day"/);
    expect(result.sources[1]!.error).toContain(b);
    expect(listFiles(lake.paths.bronze)).toEqual([]);
  });

  it('a JSON key or CSV column named __proto__ is refused naming it and the file (its values were dropped without a word)', async () => {
    const dir = tempDir();
    const json = path.join(dir, 'a.ndjson');
    const csv = path.join(dir, 'a.csv');
    fs.writeFileSync(json, '{"id":1,"__proto__":"x"}\n');
    fs.writeFileSync(csv, 'id,__proto__\n1,x\n');
    const lake = await tempLake();
    const result = await lake.extract([jsonSource({ source: 'shop', dataset: 'j', path: json }), csvSource({ source: 'shop', dataset: 'c', path: csv })]);
    expect(result.sources.map((s) => s.status)).toEqual(['failed', 'failed']);
    expect(result.sources[0]!.error).toMatch(/field "__proto__" cannot be stored.*a\.ndjson/);
    expect(result.sources[1]!.error).toMatch(/field "__proto__" cannot be stored.*a\.csv/);
    expect(listFiles(lake.paths.bronze)).toEqual([]);
  });

  it('JSON keys differing only in case (id, ID) are refused naming both fields and the file, not renamed ID_1', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.ndjson');
    fs.writeFileSync(file, '{"id":1,"ID":"A-1"}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'cased', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
    expect(result.sources[0]!.error).toMatch(/"id" and "ID"/);
    expect(result.sources[0]!.error).toContain(file);
    expect(listFiles(lake.paths.bronze)).toEqual([]);
  });

  it('JSON keys differing only in case in different files are refused naming both files', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.ndjson'), '{"sku":"1"}\n');
    fs.writeFileSync(path.join(dir, 'b.ndjson'), '{"SKU":"2"}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'cased', glob: path.join(dir, '*.ndjson') }));
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toMatch(/"sku" and "SKU"/);
    expect(result.sources[0]!.error).toContain(path.join(dir, 'a.ndjson'));
    expect(result.sources[0]!.error).toContain(path.join(dir, 'b.ndjson'));
  });

  it('CSV headers differing only in case (id, ID) are refused naming both, not renamed ID_1', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.csv');
    fs.writeFileSync(file, 'id,ID\n1,A-1\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'cased', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
    expect(result.sources[0]!.error).toMatch(/"id" and "ID"/);
    expect(result.sources[0]!.error).toContain(file);
  });

  it('a CSV header that really is named like a renamed one (id, id_1) is kept', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.csv');
    fs.writeFileSync(file, 'id,id_1\n1,2\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'ok', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(await lake.bronze('shop/ok')).toMatchObject([{ id: 1, id_1: 2 }]);
  });

  it('a CSV without a schema can be partitioned by one of its columns', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'p.csv');
    fs.writeFileSync(file, 'id,store\n1,bistek\n2,angeloni\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'p', path: file, partitionBy: ['store'] }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(listFiles(lake.paths.bronze).map((f) => f.split('/')[2]).sort()).toEqual(['store=angeloni', 'store=bistek']);
    const missing = await lake.extract(csvSource({ source: 'shop', dataset: 'q', path: file, partitionBy: ['region'] }));
    expect(missing.sources[0]!.status).toBe('failed');
    expect(missing.sources[0]!.error).toMatch(/partitionBy field "region" is not in the schema.*inferred from/);
  });
});

describe('jsonSource without a schema: every record ends in bronze or quarantine', () => {
  it('a field first seen after the 1,000th record is kept in bronze', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    const lines = Array.from({ length: 1001 }, (_, i) => JSON.stringify(i === 1000 ? { id: i, coupon: 'BLACKFRIDAY' } : { id: i }));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'events', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1001, rejected: 0 });
    const rows = await lake.bronze<{ id: number; coupon?: string }>('shop/events');
    expect(rows.find((r) => r.id === 1000)?.coupon).toBe('BLACKFRIDAY');
    const recorded = JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'schemas', 'shop.events.inferred.json'), 'utf8')) as { columns: { name: string }[] };
    expect(recorded.columns.map((c) => c.name)).toEqual(['id', 'coupon']);
  });

  it('a value of another type after the 1,000th record is typed with the others (JSON), not dropped', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    const lines = Array.from({ length: 1001 }, (_, i) => JSON.stringify({ id: i, code: i === 1000 ? 'X-1' : i }));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'events', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1001, rejected: 0 });
    const rows = await lake.bronze<{ id: number; code: unknown }>('shop/events');
    expect(JSON.stringify(rows.find((r) => r.id === 1000)?.code)).toContain('X-1');
  });
});

describe('jsonSource: byte order mark', () => {
  it('reads NDJSON and array files that start with a UTF-8 BOM', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.ndjson'), '\uFEFF{"id":1}\n{"id":2}\n');
    fs.writeFileSync(path.join(dir, 'b.json'), '\uFEFF[{"id":3}]');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'nd', path: path.join(dir, 'a.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'arr', path: path.join(dir, 'b.json') }),
    ]);
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows, s.rejected])).toEqual([
      ['nd', 'success', 2, 0],
      ['arr', 'success', 1, 0],
    ]);
    expect((await lake.bronze<{ id: number }>('shop/nd')).map((r) => r.id).sort()).toEqual([1, 2]);
    expect((await lake.bronze<{ id: number }>('shop/arr')).map((r) => r.id)).toEqual([3]);
  });

  it('reads a BOM file with a schema too', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.ndjson'), '\uFEFF{"id":1}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'nd', path: path.join(dir, 'a.ndjson'), schema: z.object({ id: z.number().int() }) }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
  });
});

describe('csvSource: integers', () => {
  it('a z.bigint() field stores ordinary integers instead of quarantining them, every digit up to 38; a longer one is quarantined naming the field', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ledger.csv');
    const digits38 = '9'.repeat(38);
    fs.writeFileSync(file, `id,cents\n1,123\n2,456\n3,${digits38}\n4,170141183460469231731687303715884105727\n`);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'ledger', path: file, schema: z.object({ id: z.number().int(), cents: z.bigint() }) }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    const reasons = quarantined(lake.paths.root, 'shop', 'ledger', result.runId).map((q) => q.reasons);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject([{ path: 'cents', code: 'unstorable_value' }]);
    const rows = await lake.query<{ id: number; cents: string }>(`SELECT id, CAST(cents AS VARCHAR) AS cents FROM read_parquet('${lake.paths.bronze}/shop/ledger/**/*.parquet') ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, cents: '123' },
      { id: 2, cents: '456' },
      { id: 3, cents: digits38 },
    ]);
  });

  it('a BIGINT column inferred without a schema stores values past 2^53 exactly instead of quarantining them', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ids.csv');
    fs.writeFileSync(file, 'id,external_id\n1,9007199254740993\n2,5\n3,-9223372036854775808\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'ids', path: file }));
    expect(quarantined(lake.paths.root, 'shop', 'ids', result.runId).map((q) => q.reasons)).toEqual([]);
    expect(result.sources[0]).toMatchObject({ rows: 3, rejected: 0 });
    const rows = await lake.query<{ id: number; external_id: string; t: string }>(
      `SELECT id, CAST(external_id AS VARCHAR) AS external_id, typeof(external_id) AS t FROM read_parquet('${lake.paths.bronze}/shop/ids/**/*.parquet') ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, external_id: '9007199254740993', t: 'BIGINT' },
      { id: 2, external_id: '5', t: 'BIGINT' },
      { id: 3, external_id: '-9223372036854775808', t: 'BIGINT' },
    ]);
  });
});

describe('csvSource: naive timestamps with a schema that types them as instants', () => {
  it('a timestamp without an offset is read in the lake time zone (São Paulo), not as UTC', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, 'id,at\n1,2024-01-01 10:00:00\n2,2024-01-01 10:00:00+00:00\n3,2024-07-01T10:00:00-05:00\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', path: file, schema: z.object({ id: z.number().int(), at: z.iso.datetime({ offset: true }) }) }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 0 });
    const rows = await lake.bronze<{ id: number; at: Date }>('shop/orders');
    expect(rows.sort((a, b) => a.id - b.id).map((r) => r.at.toISOString())).toEqual([
      '2024-01-01T13:00:00.000Z', // naive: São Paulo (-03:00)
      '2024-01-01T10:00:00.000Z', // offsets are kept as instants
      '2024-07-01T15:00:00.000Z',
    ]);
  });

  it('the lake timezone option decides, for z.date() fields too', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, 'id,at\n1,2024-01-01 10:00:00\n');
    const lake = await tempLake({ timezone: 'Asia/Tokyo' });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', path: file, schema: z.object({ id: z.number().int(), at: z.date() }) }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    const rows = await lake.bronze<{ at: Date }>('shop/orders');
    expect(rows[0]!.at.toISOString()).toBe('2024-01-01T01:00:00.000Z');
  });

  it('without a schema, naive timestamps still stay text', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, 'id,at\n1,2024-01-01 10:00:00\n');
    const lake = await tempLake();
    await lake.extract(csvSource({ source: 'shop', dataset: 'orders', path: file }));
    expect((await lake.bronze<{ at: unknown }>('shop/orders'))[0]!.at).toBe('2024-01-01 10:00:00');
  });
});

describe('csvSource: timestamps keep their microseconds', () => {
  /** Exports from Postgres and most databases print timestamps with microseconds. */
  const CSV =
    'id,updated_at,seen_local,seen_t\n' +
    '1,2026-01-10 10:00:00.123456+00,2026-01-10 10:00:00.123456,2026-01-10T10:00:00.123456\n' +
    '2,2026-01-10 10:00:00.123999+00,2026-01-10 10:00:00.123999,2026-01-10T10:00:00.123999\n';

  /** Instants rendered in UTC (the lake's session zone is São Paulo), with their microseconds. */
  async function micros(lake: Awaited<ReturnType<typeof tempLake>>, dataset: string): Promise<Record<string, unknown>[]> {
    return lake.query(
      `select id, strftime(timezone('UTC', updated_at), '%Y-%m-%d %H:%M:%S.%f') as updated_at, seen_local::VARCHAR as seen_local, seen_t::VARCHAR as seen_t
       from read_parquet('${lake.paths.bronze}/files/${dataset}/**/*.parquet') order by id`,
    );
  }

  it('schema-less: an instant keeps its microseconds and a naive timestamp stays the text the file wrote', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, CSV);
    const lake = await tempLake();
    const r = await lake.extract([csvSource({ source: 'files', dataset: 'inferred', path: file })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(await micros(lake, 'inferred')).toEqual([
      { id: 1, updated_at: '2026-01-10 10:00:00.123456', seen_local: '2026-01-10 10:00:00.123456', seen_t: '2026-01-10T10:00:00.123456' },
      { id: 2, updated_at: '2026-01-10 10:00:00.123999', seen_local: '2026-01-10 10:00:00.123999', seen_t: '2026-01-10T10:00:00.123999' },
    ]);
    const recorded = JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'schemas', 'files.inferred.inferred.json'), 'utf8')) as { columns: { name: string; type: string }[] };
    expect(recorded.columns.map((c) => c.type)).toEqual(['BIGINT', 'TIMESTAMP WITH TIME ZONE', 'VARCHAR', 'VARCHAR']);
  });

  it('with a schema typing it as an instant, as the same value read from JSON does', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, CSV);
    const json = path.join(dir, 'orders.ndjson');
    fs.writeFileSync(json, `${JSON.stringify({ id: 1, updated_at: '2026-01-10T10:00:00.123456Z', seen_local: 'x', seen_t: 'x' })}\n`);
    const schema = z.object({ id: z.number().int(), updated_at: z.iso.datetime({ offset: true }), seen_local: z.string(), seen_t: z.string() });
    const lake = await tempLake();
    await lake.extract([csvSource({ source: 'files', dataset: 'typed', path: file, schema }), jsonSource({ source: 'files', dataset: 'json', path: json, schema })]);
    // The JSON source keeps every digit; the CSV one must too (dedup keys and ordering use them).
    expect((await micros(lake, 'json'))[0]!.updated_at).toBe('2026-01-10 10:00:00.123456');
    expect((await micros(lake, 'typed')).map((r) => r.updated_at)).toEqual(['2026-01-10 10:00:00.123456', '2026-01-10 10:00:00.123999']);
  });

  it('a naive timestamp a schema types as an instant keeps its microseconds, read in the lake time zone', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, 'id,at\n1,2026-01-10 10:00:00.123456\n');
    const lake = await tempLake();
    await lake.extract(csvSource({ source: 'files', dataset: 'local', path: file, schema: z.object({ id: z.number().int(), at: z.iso.datetime({ offset: true }) }) }));
    const rows = await lake.query(`select strftime(timezone('UTC', "at"), '%Y-%m-%d %H:%M:%S.%f') as ts from read_parquet('${lake.paths.bronze}/files/local/**/*.parquet')`);
    expect(rows).toEqual([{ ts: '2026-01-10 13:00:00.123456' }]);
  });
});

describe('csvSource: path is one file, glob is a glob', () => {
  it('a path with glob characters reads exactly that file even when a file it would match exists', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'orders[1].csv'), 'id\n7\n');
    fs.writeFileSync(path.join(dir, 'orders1.csv'), 'id\n99\n');
    const lake = await tempLake();
    await lake.extract(csvSource({ source: 'shop', dataset: 'orders', path: path.join(dir, 'orders[1].csv') }));
    expect((await lake.bronze('shop/orders')).map((r) => r.id)).toEqual([7]);
  });

  it('* and ? in a path (and in its folders) are literal too; schema or not; a glob still globs', async () => {
    const dir = tempDir();
    const sub = path.join(dir, 'in[x]');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'a*b?.csv'), 'id\n5\n');
    fs.writeFileSync(path.join(sub, 'aXbY.csv'), 'id\n6\n');
    const lake = await tempLake();
    const result = await lake.extract([
      csvSource({ source: 'shop', dataset: 'lit', path: path.join(sub, 'a*b?.csv') }),
      csvSource({ source: 'shop', dataset: 'typed', path: path.join(sub, 'a*b?.csv'), schema: z.object({ id: z.number().int() }) }),
      csvSource({ source: 'shop', dataset: 'glob', glob: path.join(dir, 'in[[]x]', '*.csv') }),
    ]);
    expect(result.sources.map((s) => s.status)).toEqual(['success', 'success', 'success']);
    expect((await lake.bronze('shop/lit')).map((r) => r.id)).toEqual([5]);
    expect((await lake.bronze('shop/typed')).map((r) => r.id)).toEqual([5]);
    expect((await lake.bronze('shop/glob')).map((r) => r.id).sort()).toEqual([5, 6]);
  });

  it('a missing path with glob characters is reported by its own name', async () => {
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', path: '/nonexistent/orders[1].csv' }));
    expect(result.sources[0]!.error).toMatch(/"\/nonexistent\/orders\[1\]\.csv" does not exist/);
  });
});

describe('csvSource without a schema: every row votes on the types, not only the 20,480 rows DuckDB samples', () => {
  it('São Paulo CEP prefixes (leading zero) late in a customers export sorted by state keep their zero, as the same values early in the file do', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'customers.csv');
    const lines = ['customer_id,customer_state,customer_zip_code_prefix'];
    for (let i = 0; i < 30_000; i++) lines.push(i < 25_000 ? `c${i},RJ,${20000 + (i % 9000)}` : `c${i},SP,0${1000 + (i % 8000)}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'customers', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 30_000, rejected: 0 });
    const [row] = await lake.query(`SELECT CAST(customer_zip_code_prefix AS VARCHAR) AS zip FROM ${bronze(lake, 'shop', 'customers')} WHERE customer_id = 'c25000'`);
    expect(row!.zip).toBe('02000');
  });

  it('a text value late in a column the sample saw as integers is stored (the column widened), not quarantined: a schema-less source has no invalid values', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'items.csv');
    const lines = ['item_id,ref'];
    for (let i = 0; i < 30_000; i++) lines.push(`${i},${i === 25_000 ? 'SEM-REF' : i}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'items', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 30_000, rejected: 0 });
  });
});

describe('csvSource without a schema: integers past BIGINT keep every digit (DECIMAL(38,0), or text past 38 digits)', () => {
  it('a column of 20-digit integers keeps every digit (README: integer columns keep every digit past 2^53), not a rounded DOUBLE', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ids.csv');
    fs.writeFileSync(file, 'id,external_id\n1,9223372036854775808\n2,18446744073709551615\n3,123456789012345678901234\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'ids', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    const rows = await lake.query(`SELECT id, CAST(external_id AS VARCHAR) AS external_id FROM ${bronze(lake, 'erp', 'ids')} ORDER BY id`);
    expect(rows.map((r) => r.external_id)).toEqual(['9223372036854775808', '18446744073709551615', '123456789012345678901234']);
  });

  it('a 44-digit NF-e access key column is kept exactly (as text) or quarantined, not rounded to 3.5e43', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'notas.csv');
    const key = '35210312345678000190550010000012341000012345';
    fs.writeFileSync(file, `nota,chave_acesso\n1,${key}\n`);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'notas', path: file }));
    const s = result.sources[0]!;
    expect(s.rows + s.rejected).toBe(1);
    if (s.rows === 1) {
      const [row] = await lake.query(`SELECT CAST(chave_acesso AS VARCHAR) AS k FROM ${bronze(lake, 'erp', 'notas')}`);
      expect(row!.k).toBe(key);
    }
  });
});

describe('file sources: a day whose export has no rows does not rewrite the recorded schema', () => {
  it('a header-only CSV (no orders today) records no schema drift and keeps the recorded column types', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    const lake = await tempLake();
    const source = csvSource({ source: 'shop', dataset: 'orders', path: file });
    fs.writeFileSync(file, 'order_id,total,purchased_on\n1,10.5,2024-01-02\n');
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    const before = recordedColumns(lake, 'shop', 'orders');
    fs.writeFileSync(file, 'order_id,total,purchased_on\n');
    const second = await lake.extract(source);
    expect(second.sources[0]!.schemaChanges ?? []).toEqual([]);
    expect((second.alerts ?? []).filter((a) => a.kind === 'schema_drift')).toEqual([]);
    expect(recordedColumns(lake, 'shop', 'orders')).toEqual(before);
  });

  it('an empty (0-byte) CSV does not record a phantom column0 and every real column as removed', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    const lake = await tempLake();
    const source = csvSource({ source: 'shop', dataset: 'orders', path: file });
    fs.writeFileSync(file, 'order_id,total\n1,10.5\n');
    await lake.extract(source);
    const before = recordedColumns(lake, 'shop', 'orders');
    fs.writeFileSync(file, '');
    const second = await lake.extract(source);
    expect(second.sources[0]!.schemaChanges ?? []).toEqual([]);
    expect(recordedColumns(lake, 'shop', 'orders')).toEqual(before);
  });

  it('an empty NDJSON file does not record every column as removed', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    const lake = await tempLake();
    const source = jsonSource({ source: 'shop', dataset: 'events', path: file });
    fs.writeFileSync(file, '{"id":1,"kind":"view"}\n');
    await lake.extract(source);
    const before = recordedColumns(lake, 'shop', 'events');
    fs.writeFileSync(file, '');
    const second = await lake.extract(source);
    expect(second.sources[0]!.schemaChanges ?? []).toEqual([]);
    expect(recordedColumns(lake, 'shop', 'events')).toEqual(before);
  });
  it('a first run on a header-only CSV (nothing recorded yet) does not fix the types: the first rows bring theirs without drift', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    const lake = await tempLake();
    const source = csvSource({ source: 'shop', dataset: 'orders', path: file });
    fs.writeFileSync(file, 'order_id,total,purchased_on\n');
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: 0 });
    fs.writeFileSync(file, 'order_id,total,purchased_on\n1,10.5,2024-01-02\n');
    const second = await lake.extract(source);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(second.sources[0]!.schemaChanges ?? []).toEqual([]);
    expect((second.alerts ?? []).filter((a) => a.kind === 'schema_drift')).toEqual([]);
    expect(recordedColumns(lake, 'shop', 'orders')).toEqual(['order_id BIGINT', 'total DOUBLE', 'purchased_on DATE']);
    // From then on the types are a baseline: a real retype is drift.
    fs.writeFileSync(file, 'order_id,total,purchased_on\nA-2,10.5,2024-01-03\n');
    const third = await lake.extract(source);
    expect(third.sources[0]!.schemaChanges).toEqual([{ column: 'order_id', change: 'retyped', oldType: 'BIGINT', newType: 'VARCHAR' }]);
  });

  it('a first run on an empty NDJSON file does not make every column of the first records "added" drift', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    const lake = await tempLake();
    const source = jsonSource({ source: 'shop', dataset: 'events', path: file });
    fs.writeFileSync(file, '');
    await lake.extract(source);
    fs.writeFileSync(file, '{"id":1,"kind":"view"}\n');
    const second = await lake.extract(source);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(second.sources[0]!.schemaChanges ?? []).toEqual([]);
  });
});

describe('csvSource over a glob of daily exports, one of which has no rows', () => {
  it('a header-only day does not turn every column of every file into text, nor add a column0', async () => {
    const dir = tempDir();
    const inbox = path.join(dir, 'inbox');
    fs.mkdirSync(inbox);
    fs.writeFileSync(path.join(inbox, 'orders-2024-01-01.csv'), 'order_id,total,purchased_on\n1,10.5,2024-01-01\n');
    fs.writeFileSync(path.join(inbox, 'orders-2024-01-02.csv'), 'order_id,total,purchased_on\n'); // a Sunday: no orders
    fs.writeFileSync(path.join(inbox, 'orders-2024-01-03.csv'), 'order_id,total,purchased_on\n3,7.25,2024-01-03\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', glob: path.join(inbox, '*.csv') }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const inferred = JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'schemas', 'shop.orders.inferred.json'), 'utf8')) as { columns: { name: string; type: string }[] };
    expect(inferred.columns).toEqual([
      { name: 'order_id', type: 'BIGINT' },
      { name: 'total', type: 'DOUBLE' },
      { name: 'purchased_on', type: 'DATE' },
    ]);
    const rows = await lake.query(`SELECT order_id, total FROM ${bronze(lake, 'shop', 'orders')} ORDER BY order_id`);
    expect(rows).toEqual([
      { order_id: 1, total: 10.5 },
      { order_id: 3, total: 7.25 },
    ]);
  });
});

describe('csvSource: quarantined rows carry the line the file has them on', () => {
  it('a ragged row after a quoted field spanning lines is quarantined with its line in the file, not its record number', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'reviews.csv');
    // Line 1 header; lines 2-4 one review whose comment spans three lines; line 5 ragged; line 6 fine; line 7 ragged.
    fs.writeFileSync(file, 'review_id,comment,score\nr1,"produto bom\nentrega rápida\nrecomendo",5\nr2,ok,4,extra\nr3,"ruim",1\nr4,sem nota\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'reviews', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 2 });
    const q = quarantined(lake.paths.root, 'shop', 'reviews', result.runId);
    expect(q.map((e) => [e.line, e.record])).toEqual([
      [5, 'r2,ok,4,extra'],
      [7, 'r4,sem nota'],
    ]);
  });

  it('a truncated one-character row (an id alone) is quarantined with its own line, not the next row\'s; records the schema rejects after it keep theirs (LF and CRLF)', async () => {
    for (const eol of ['\n', '\r\n']) {
      const file = path.join(tempDir(), 'pagamentos.csv');
      // Line 1 header; 2 fine; 3 truncated; 4 fine, but the schema refuses 0; 5 blank; 6 truncated; 7 the schema refuses.
      fs.writeFileSync(file, ['pedido,valor', '1,10', '2', '3,0', '', '4', '5,-1', ''].join(eol));
      const lake = await tempLake();
      const schema = z.object({ pedido: z.number(), valor: z.number().positive() });
      const result = await lake.extract(csvSource({ source: 'shop', dataset: 'pagamentos', path: file, schema }));
      expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 4 });
      const q = quarantined(lake.paths.root, 'shop', 'pagamentos', result.runId);
      expect(q.map((e) => [e.line, e.record]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
        [3, '2'],
        [4, { pedido: 3, valor: 0 }],
        [6, '4'],
        [7, { pedido: 5, valor: -1 }],
      ]);
    }
  });

  it('a row DuckDB rejects after a blank line of a CRLF file is quarantined with its own line and text, not the blank line\'s', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'crlf-blank.csv');
    // Line 3 is blank; line 4 has a price that is not a number; line 6 is ragged.
    fs.writeFileSync(file, 'sku,price\r\nA,1\r\n\r\nB,abc\r\nC,3\r\n\r\nD,4,x\r\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'crlfblank', path: file, schema: z.object({ sku: z.string(), price: z.number() }) }));
    expect(result.sources[0]).toMatchObject({ rows: 2, rejected: 2 });
    expect(quarantined(lake.paths.root, 'erp', 'crlfblank', result.runId).map((e) => [e.line, e.record])).toEqual([
      [4, 'B,abc'],
      [7, 'D,4,x'],
    ]);
  });

  it('the quarantined text of a ragged row in a CRLF file (or after a blank line) is the row as written, without a stray newline', async () => {
    const dir = tempDir();
    const crlf = path.join(dir, 'crlf.csv');
    const blank = path.join(dir, 'blank.csv');
    fs.writeFileSync(crlf, 'id,n\r\n1,1\r\n2,2,3\r\n3,3\r\n');
    fs.writeFileSync(blank, 'id,n\n1,1\n\n2,2,3\n3,3\n');
    const lake = await tempLake();
    const result = await lake.extract([csvSource({ source: 'erp', dataset: 'crlf', path: crlf }), csvSource({ source: 'erp', dataset: 'blank', path: blank })]);
    expect(result.sources.map((s) => s.rejected)).toEqual([1, 1]);
    expect(quarantined(lake.paths.root, 'erp', 'crlf', result.runId).map((e) => e.record)).toEqual(['2,2,3']);
    expect(quarantined(lake.paths.root, 'erp', 'blank', result.runId).map((e) => e.record)).toEqual(['2,2,3']);
  });
});

describe('file records the schema rejects are quarantined with their file and line', () => {
  it('NDJSON: the line of the record (blank lines counted)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.ndjson');
    fs.writeFileSync(file, '{"id":1}\n\n{"id":"x"}\n{"id":3}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'f', dataset: 'n', path: file, schema: z.object({ id: z.number() }) }));
    expect(result.sources[0]).toMatchObject({ rows: 2, rejected: 1 });
    expect(quarantined(lake.paths.root, 'f', 'n', result.runId).map((e) => [e.file, e.line])).toEqual([[file, 3]]);
  });

  it('JSON array: the line the element starts on', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, '[\n  {"id": 1},\n  {\n    "id": "x"\n  },\n  {"id": 3}, {"id": "y"}\n]\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'f', dataset: 'a', path: file, schema: z.object({ id: z.number() }) }));
    expect(result.sources[0]).toMatchObject({ rows: 2, rejected: 2 });
    expect(quarantined(lake.paths.root, 'f', 'a', result.runId).map((e) => [e.file, e.line])).toEqual([
      [file, 3],
      [file, 6],
    ]);
  });

  it('CSV: the input line, counting the header, quoted fields spanning lines, blank lines and rows DuckDB rejected (LF or CRLF)', async () => {
    const dir = tempDir();
    // 1 header; 2-3 one row; 4 ragged (DuckDB); 5 fine; 6 blank; 7 qty not a number (DuckDB); 8 qty -1 (zod);
    // 9-11 one row with qty 0 (zod); 12 fine.
    const text = 'sku,note,qty\nA,"two\nlines",1\nB,x,1,extra\nC,ok,2\n\nG,cast,abc\nD,neg,-1\nE,"three\nlines\nhere",0\nF,ok,3\n';
    const lf = path.join(dir, 'lf.csv');
    const crlf = path.join(dir, 'crlf.csv');
    fs.writeFileSync(lf, text);
    fs.writeFileSync(crlf, text.replace(/\n/g, '\r\n'));
    const lake = await tempLake();
    const schema = z.object({ sku: z.string(), note: z.string(), qty: z.number().positive() });
    const result = await lake.extract([csvSource({ source: 'f', dataset: 'lf', path: lf, schema }), csvSource({ source: 'f', dataset: 'crlf', path: crlf, schema })]);
    for (const [dataset, file] of [['lf', lf], ['crlf', crlf]] as const) {
      expect(result.sources.find((s) => s.dataset === dataset)).toMatchObject({ rows: 3, rejected: 4 });
      const q = quarantined(lake.paths.root, 'f', dataset, result.runId);
      expect(q.map((e) => [e.file, e.line]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
        [file, 4],
        [file, 7],
        [file, 8],
        [file, 9],
      ]);
    }
  });

  it('CSV with lone-CR line ends (Excel for Mac\'s "CSV (Macintosh)"): the same lines, not line 1 or none', async () => {
    const dir = tempDir();
    // As above: 4 ragged (DuckDB); 7 qty not a number (DuckDB); 8 and 9-11 refused by zod.
    const text = 'sku,note,qty\rA,"two\rlines",1\rB,x,1,extra\rC,ok,2\r\rG,cast,abc\rD,neg,-1\rE,"three\rlines\rhere",0\rF,ok,3\r';
    const file = path.join(dir, 'mac.csv');
    fs.writeFileSync(file, text);
    const lake = await tempLake();
    const schema = z.object({ sku: z.string(), note: z.string(), qty: z.number().positive() });
    const result = await lake.extract([csvSource({ source: 'f', dataset: 'mac', path: file, schema })]);
    expect(result.sources[0]).toMatchObject({ rows: 3, rejected: 4 });
    const q = quarantined(lake.paths.root, 'f', 'mac', result.runId);
    expect(q.map((e) => [e.file, e.line]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      [file, 4],
      [file, 7],
      [file, 8],
      [file, 9],
    ]);
  });
});

describe('jsonSource: NDJSON with lone-CR line ends (classic Mac OS), as csvSource reads them', () => {
  it('each CR-ended line is a record, the quarantine counting those lines; schema or not; CRLF and LF mixed in', async () => {
    const dir = tempDir();
    const mac = path.join(dir, 'mac.ndjson');
    const mixed = path.join(dir, 'mixed.ndjson');
    // Line 3 blank; 4 refused by the schema; 5 not JSON.
    fs.writeFileSync(mac, '{"id":1,"n":"a"}\r{"id":2,"n":"b"}\r\r{"id":"x","n":"c"}\r{broken\r{"id":6,"n":"f"}\r');
    fs.writeFileSync(mixed, '{"id":1,"n":"a"}\r\n{"id":2,"n":"b"}\r{"id":"x","n":"c"}\n{"id":4,"n":"d"}');
    const lake = await tempLake();
    const schema = z.object({ id: z.number(), n: z.string() });
    const result = await lake.extract([
      jsonSource({ source: 'f', dataset: 'mac', path: mac, schema }),
      jsonSource({ source: 'f', dataset: 'inferred', path: mac }),
      jsonSource({ source: 'f', dataset: 'mixed', path: mixed, schema }),
    ]);
    const [typed, inferred, both] = result.sources;
    expect(typed, JSON.stringify(typed)).toMatchObject({ status: 'success', rows: 3, rejected: 2 });
    const q = quarantined(lake.paths.root, 'f', 'mac', result.runId);
    expect(q.map((e) => [e.file, e.line, e.reasons.map((r) => r.message).join('; ')]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      [mac, 4, expect.stringMatching(/number/)],
      [mac, 5, expect.stringMatching(/^invalid JSON/)],
    ]);
    expect((await lake.bronze('f/mac')).map((r) => r.id).sort()).toEqual([1, 2, 6]);
    // Without a schema, "id" is JSON (a number here, a string there): 4 records, the broken line quarantined.
    expect(inferred, JSON.stringify(inferred)).toMatchObject({ status: 'success', rows: 4, rejected: 1 });
    expect(quarantined(lake.paths.root, 'f', 'inferred', result.runId).map((e) => e.line)).toEqual([5]);
    expect(both, JSON.stringify(both)).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    expect(quarantined(lake.paths.root, 'f', 'mixed', result.runId).map((e) => e.line)).toEqual([3]);
  });

  it('a CRLF split between two read chunks (64 KiB) ends one line, not two', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'big.ndjson');
    const first = `{"id":1,"pad":"${'x'.repeat(65_536 - 1 - '{"id":1,"pad":""}'.length)}"}`;
    expect(Buffer.byteLength(first)).toBe(65_535); // its '\r' is the chunk's last byte, its '\n' the next chunk's first
    fs.writeFileSync(file, `${first}\r\n{"id":"x","pad":""}\r\n{"id":3,"pad":""}\r\n`);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'f', dataset: 'big', path: file, schema: z.object({ id: z.number(), pad: z.string() }) }));
    expect(result.sources[0], JSON.stringify(result.sources[0])).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    expect(quarantined(lake.paths.root, 'f', 'big', result.runId).map((e) => e.line)).toEqual([2]);
  });
});

describe('csvSource without a schema: a DOUBLE column holding inf or nan', () => {
  it('stores the rows (DuckDB read the values as DOUBLE) instead of quarantining them as "expected number, received Infinity"', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'scores.csv');
    fs.writeFileSync(file, 'id,score\n1,1.5\n2,inf\n3,nan\n4,-inf\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'f', dataset: 'scores', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 4, rejected: 0 });
    const rows = await lake.query(`SELECT id, CAST(score AS VARCHAR) AS score FROM read_parquet('${lake.paths.bronze}/f/scores/**/*.parquet') ORDER BY id`);
    expect(rows.map((r) => r.score)).toEqual(['1.5', 'inf', 'nan', '-inf']);
  });
});

describe('jsonSource: a file that is not UTF-8 (Latin-1, as Brazilian ERPs export)', () => {
  it('an NDJSON line that is not UTF-8 is quarantined with its number; an array file is refused naming the file; no U+FFFD is stored', async () => {
    const dir = tempDir();
    const ndjson = path.join(dir, 'clientes.ndjson');
    const array = path.join(dir, 'cidades.json');
    fs.writeFileSync(ndjson, Buffer.from('{"id":1,"cidade":"São Paulo"}\n{"id":2,"cidade":"Rio"}\n', 'latin1'));
    fs.writeFileSync(array, Buffer.from('[{"id":1,"cidade":"Maceió"}]', 'latin1'));
    const lake = await tempLake();
    const result = await lake.extract([jsonSource({ source: 'erp', dataset: 'clientes', path: ndjson }), jsonSource({ source: 'erp', dataset: 'cidades', path: array })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 1 });
    const q = quarantined(lake.paths.root, 'erp', 'clientes', result.runId);
    expect(q.map((e) => e.line)).toEqual([1]);
    expect(await lake.query(`SELECT * FROM ${bronze(lake, 'erp', 'clientes')} WHERE cidade LIKE '%' || chr(65533) || '%'`)).toEqual([]);
    expect(result.sources[1]).toMatchObject({ status: 'failed' });
    expect(result.sources[1]!.error).toContain(array);
    expect(result.sources[1]!.error).toMatch(/not UTF-8/);
  });
});

describe('csvSource without a schema: repeated header names', () => {
  it('a header a,a,a_1 is refused naming "a" and the file, instead of storing the second "a" under the file\'s own "a_1" column', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'dup.csv');
    fs.writeFileSync(file, 'a,a,a_1\n1,2,3\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'dup', path: file }));
    const s = result.sources[0]!;
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/"a" appears twice/);
    expect(s.error).toContain(file);
  });

  it('an empty header name (id,,name: an ERP\'s unnamed column) is refused naming it and the file, not stored as DuckDB\'s column1', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(file, 'id,,name\n1,x,a\n');
    const quotedFile = path.join(dir, 'quoted.csv');
    fs.writeFileSync(quotedFile, 'id,name,""\n1,a,x\n');
    const lake = await tempLake();
    const result = await lake.extract([
      csvSource({ source: 'erp', dataset: 'blank', path: file }),
      csvSource({ source: 'erp', dataset: 'quoted', path: quotedFile }),
    ]);
    for (const [s, f] of [[result.sources[0]!, file], [result.sources[1]!, quotedFile]] as const) {
      expect(s).toMatchObject({ status: 'failed', rows: 0 });
      expect(s.error).toMatch(/field named "" \(the empty string\)/);
      expect(s.error).toContain(f);
    }
  });

  it('a header that really names a column column1 is kept', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.csv');
    fs.writeFileSync(file, 'id,column1\n1,2\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'ok', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(await lake.bronze('erp/ok')).toMatchObject([{ id: 1, column1: 2 }]);
  });
});

describe('jsonSource without a schema: nested integers past 2^53', () => {
  it('stay JSON numbers with every digit inside a JSON column, not strings', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.ndjson');
    fs.writeFileSync(file, '{"id":1,"payment":{"nsu":12345678901234567890}}\n{"id":2,"payment":{"nsu":7}}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'orders', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    const rows = await lake.query(`SELECT id, CAST(payment AS VARCHAR) AS payment FROM ${bronze(lake, 'shop', 'orders')} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, payment: '{"nsu":12345678901234567890}' },
      { id: 2, payment: '{"nsu":7}' },
    ]);
  });
});

describe('jsonSource with a schema: z.bigint() fields nested in objects and arrays', () => {
  it('get their integers as bigints at any depth, small or past 2^53, instead of quarantining the record', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'notas.ndjson');
    fs.writeFileSync(file, '{"id":1,"ref":{"nsu":5},"ids":[1,2]}\n{"id":2,"ref":{"nsu":12345678901234567890},"ids":[12345678901234567890]}\n');
    const lake = await tempLake();
    const schema = z.object({ id: z.number(), ref: z.object({ nsu: z.bigint() }), ids: z.array(z.bigint()) });
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'notas', path: file, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const rows = await lake.query(`SELECT id, ref.nsu::VARCHAR AS nsu, ids::VARCHAR AS ids FROM ${bronze(lake, 'erp', 'notas')} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, nsu: '5', ids: '[1, 2]' },
      { id: 2, nsu: '12345678901234567890', ids: '[12345678901234567890]' },
    ]);
  });
});

describe('jsonSource: a JSON array after leading whitespace', () => {
  it('an array file starting with more than 64 bytes of blank lines is read as an array, not quarantined line by line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'items.json');
    fs.writeFileSync(file, `${'\n'.repeat(70)}[\n  {"id": 1},\n  {"id": 2}\n]\n`);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'items', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
  });
});

describe('jsonSource: a JSON array with a trailing comma (a hand-edited export)', () => {
  it('fails the source saying it is a trailing comma, with the file, line and column of the comma (was: unexpected "]")', async () => {
    const dir = tempDir();
    const pretty = path.join(dir, 'cidades.json');
    const oneLine = path.join(dir, 'one.json');
    // Line 3's comma is its 21st character (22nd byte: ó is two).
    fs.writeFileSync(pretty, '[\n  {"id": 1, "nome": "Recife"},\n  {"nome": "Maceió"},\n]\n');
    fs.writeFileSync(oneLine, '[{"id":1},]');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'erp', dataset: 'cidades', path: pretty }),
      jsonSource({ source: 'erp', dataset: 'typed', path: pretty, schema: z.object({ id: z.number().optional(), nome: z.string() }) }),
      jsonSource({ source: 'erp', dataset: 'one', path: oneLine }),
    ]);
    const [inferred, typed, one] = result.sources;
    for (const s of [inferred!, typed!]) {
      expect(s, JSON.stringify(s)).toMatchObject({ status: 'failed', rows: 0, rejected: 0 });
      expect(s.error).toContain(pretty);
      expect(s.error).toMatch(/trailing comma/);
      expect(s.error).toMatch(/line 3, column 21\b/);
      expect(s.error).not.toMatch(/unexpected "\]"/);
    }
    expect(one, JSON.stringify(one)).toMatchObject({ status: 'failed', rows: 0 });
    expect(one!.error).toContain(oneLine);
    expect(one!.error).toMatch(/trailing comma.*line 1, column 10\b/);
    expect(quarantined(lake.paths.root, 'erp', 'typed', result.runId)).toEqual([]);
  });
});

describe('jsonSource: a JSON array with a stray comma or character outside its elements', () => {
  it('fails the source naming the file, the character and its line and column (in characters), not only its byte', async () => {
    const dir = tempDir();
    const cases: [string, string, RegExp][] = [
      ['lead.json', '[,{"id":1}]', /unexpected ",".* line 1, column 2\b/],
      ['double.json', '[\n  {"id": 1},\n  ,{"id": 2}\n]\n', /unexpected ",".* line 3, column 3\b/],
      ['accent.json', '[{"nome": "Maceió"},,{"id":2}]', /unexpected ",".* line 1, column 21\b/],
      ['after.json', '[{"id":1}]\r\nx\r\n', /unexpected "x".* line 2, column 1\b/],
    ];
    for (const [name, text] of cases) fs.writeFileSync(path.join(dir, name), text);
    const lake = await tempLake();
    const result = await lake.extract(cases.map(([name], i) => jsonSource({ source: 'erp', dataset: `d${i}`, path: path.join(dir, name) })));
    for (const [i, [name, , where]] of cases.entries()) {
      const s = result.sources[i]!;
      expect(s, name).toMatchObject({ status: 'failed', rows: 0 });
      expect(s.error, name).toContain(path.join(dir, name));
      expect(s.error, name).toMatch(where);
    }
  });
});

describe('jsonSource: a JSON array with lone-CR line ends (classic Mac OS), lines counted as NDJSON\'s are', () => {
  it('a quarantined element and a trailing comma are on their own line, not line 1 (\\r\\n counted once)', async () => {
    const dir = tempDir();
    const mac = path.join(dir, 'mac.json');
    const mixed = path.join(dir, 'mixed.json');
    const comma = path.join(dir, 'comma.json');
    fs.writeFileSync(mac, '[\r  {"id": 1},\r\r  {"id": "x"},\r  {"id": 3}\r]\r');
    fs.writeFileSync(mixed, '[\r\n  {"id": 1},\r  {"id": "y"}\r\n]');
    fs.writeFileSync(comma, '[\r  {"id": 1},\r]\r');
    // A '\r\n' cut between two 64 KiB chunks of the read is one line end too.
    const head = `[{"id":1,"pad":"${'x'.repeat(65_535 - 19)}"},`;
    expect(Buffer.byteLength(head)).toBe(65_535);
    fs.writeFileSync(path.join(dir, 'mcut.json'), `${head}\r\n{"id":"z"}\r\n]`);
    const lake = await tempLake();
    const schema = z.object({ id: z.number() });
    const result = await lake.extract([
      jsonSource({ source: 'erp', dataset: 'mac', glob: path.join(dir, 'm*.json'), schema }),
      jsonSource({ source: 'erp', dataset: 'comma', path: comma }),
    ]);
    const [typed, trailing] = result.sources;
    expect(typed, JSON.stringify(typed)).toMatchObject({ status: 'success', rows: 4, rejected: 3 });
    const q = quarantined(lake.paths.root, 'erp', 'mac', result.runId);
    expect(q.map((e) => [path.basename(String(e.file)), e.line, e.record])).toEqual([
      ['mac.json', 4, { id: 'x' }],
      ['mcut.json', 2, { id: 'z' }],
      ['mixed.json', 3, { id: 'y' }],
    ]);
    expect(trailing, JSON.stringify(trailing)).toMatchObject({ status: 'failed', rows: 0 });
    expect(trailing!.error).toContain(comma);
    expect(trailing!.error).toMatch(/trailing comma.*line 2, column 12\b/);
  });
});

describe('csvSource: long rows', () => {
  it('a row longer than DuckDB\'s 2 MB default line limit (a huge description) is stored with the others; the source does not fail', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'products.csv');
    fs.writeFileSync(file, `id,description\n1,curta\n2,${'x'.repeat(3_000_000)}\n3,outra\n`);
    const lake = await tempLake();
    for (const schema of [undefined, z.object({ id: z.number().int(), description: z.string() })]) {
      const dataset = schema ? 'typed' : 'inferred';
      const result = await lake.extract(csvSource({ source: 'shop', dataset, path: file, ...(schema ? { schema } : {}) }));
      const s = result.sources[0]!;
      expect(s.status, String(s.error).slice(0, 300)).toBe('success');
      expect(s).toMatchObject({ rows: 3, rejected: 0 });
      const rows = await lake.query(`SELECT id, length(description) AS n FROM ${bronze(lake, 'shop', dataset)} ORDER BY id`);
      expect(rows.map((r) => [r.id, r.n])).toEqual([
        [1, 5],
        [2, 3_000_000],
        [3, 5],
      ]);
    }
  });
});

describe('csvSource: a glob of 300 small exports', () => {
  it('reads every row of every file with its own header (a column the later files gained included), inferred and with a schema', async () => {
    const dir = tempDir();
    const files = 300;
    for (let i = 0; i < files; i++) {
      // From file 200 on, the exports gained an email column.
      const name = `orders-${String(i).padStart(3, '0')}.csv`;
      fs.writeFileSync(path.join(dir, name), i < 200 ? `id,total\n${2 * i},${i}.5\n${2 * i + 1},1.25\n` : `id,total,email\n${2 * i},${i}.5,c${i}@x.com\n${2 * i + 1},1.25,\n`);
    }
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int(), total: z.number(), email: z.string().nullable().optional() });
    for (const [dataset, given] of [['inferred', undefined], ['typed', schema]] as const) {
      const result = await lake.extract(csvSource({ source: 'shop', dataset, glob: path.join(dir, '*.csv'), ...(given ? { schema: given } : {}) }));
      const s = result.sources[0]!;
      expect(s.status, String(s.error).slice(0, 300)).toBe('success');
      expect(s).toMatchObject({ rows: 2 * files, rejected: 0 });
      const [agg] = await lake.query(
        `SELECT count(DISTINCT id)::INTEGER AS ids, sum(id)::BIGINT AS id_sum, count(email)::INTEGER AS emails, sum(total)::DOUBLE AS total FROM ${bronze(lake, 'shop', dataset)}`,
      );
      expect(agg).toEqual({ ids: 2 * files, id_sum: (2 * files * (2 * files - 1)) / 2, emails: files - 200, total: (files * (files - 1)) / 2 + files * 0.5 + files * 1.25 });
    }
  });
});

describe('csvSource: a glob whose files have different columns, read without a statement for their names', () => {
  it('a file lacking schema fields (an instant among them), or having one the file before lacked, is read with the types of the fields it has, its rejected rows with their lines', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,paid_at,qty\n1,2024-01-10 10:00:00,5\n2,,x\n');
    fs.writeFileSync(path.join(dir, 'b.csv'), 'id,qty\n3,7\n4,y\n');
    fs.writeFileSync(path.join(dir, 'c.csv'), 'id,paid_at\n5,2024-01-11T10:00:00Z\n6,25/12/2024\n');
    fs.writeFileSync(path.join(dir, 'd.csv'), 'id\n7\n');
    // A text field of digits the file before lacks: DuckDB alone would read it as a number (quarantined by z.string()).
    fs.writeFileSync(path.join(dir, 'e.csv'), 'id,code\n8,7\n');
    const lake = await tempLake();
    const schema = z.object({
      id: z.number().int(),
      paid_at: z.iso.datetime({ offset: true }).nullable().optional(),
      qty: z.number().int().nullable().optional(),
      code: z.string().nullable().optional(),
    });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', glob: path.join(dir, '*.csv'), schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 5, rejected: 3 });
    // Read in the lake's zone (São Paulo): a naive timestamp as 10:00 there, an instant as itself.
    const rows = await lake.query(`SELECT id, CAST(paid_at AS VARCHAR) AS paid_at, qty, code FROM ${bronze(lake, 'shop', 'orders')} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, paid_at: '2024-01-10 10:00:00-03', qty: 5, code: null },
      { id: 3, paid_at: null, qty: 7, code: null },
      { id: 5, paid_at: '2024-01-11 07:00:00-03', qty: null, code: null },
      { id: 7, paid_at: null, qty: null, code: null },
      { id: 8, paid_at: null, qty: null, code: '7' },
    ]);
    const q = quarantined(lake.paths.root, 'shop', 'orders', result.runId);
    expect(q.map((e) => [path.basename(String(e.file)), e.line]).sort()).toEqual([
      ['a.csv', 3],
      ['b.csv', 3],
      ['c.csv', 3],
    ]);
  });

  it('without a schema, a file changed since the inference is read with the inferred types of the columns it has now', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,code\n1,01310\n');
    fs.writeFileSync(path.join(dir, 'b.csv'), 'id,total\n2,1.5\n');
    const lake = await tempLake();
    const source = csvSource({ source: 'shop', dataset: 'orders', glob: path.join(dir, '*.csv') });
    // b.csv is rewritten between the inference and the extraction (an export landing mid-run): it gained a.csv's text column.
    const changing = {
      ...source,
      async resolve(ctx: Parameters<NonNullable<typeof source.resolve>>[0]) {
        const resolved = await source.resolve!(ctx);
        fs.writeFileSync(path.join(dir, 'b.csv'), 'id,total,code\n2,1.5,7\n');
        return resolved;
      },
    };
    const result = await lake.extract(changing);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    expect(await lake.query(`SELECT id, total, code FROM ${bronze(lake, 'shop', 'orders')} ORDER BY id`)).toEqual([
      { id: 1, total: null, code: '01310' },
      { id: 2, total: 1.5, code: '7' },
    ]);
  });
});

describe('csvSource with header: false and a schema', () => {
  it('names the columns by the schema (in order) instead of quarantining every row as "received undefined"', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'export.csv');
    fs.writeFileSync(file, '1;Ana\n2;Bia\n');
    const lake = await tempLake();
    const result = await lake.extract(
      csvSource({ source: 'erp', dataset: 'people', path: file, csv: { header: false, delimiter: ';' }, schema: z.object({ id: z.number().int(), name: z.string() }) }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
  });
});

describe('jsonSource: a JSON array file past 512 MB', () => {
  it('is read element by element, not as one string (V8 caps a string at 512 MB: the file failed as "not UTF-8 text")', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'export.json');
    // A pretty-printer's whitespace between two records: valid JSON, 553 MB in all.
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, '[{"id": 1},');
    const blank = Buffer.alloc(16 * 1024 * 1024, 0x20);
    for (let i = 0; i < 33; i++) fs.writeSync(fd, blank);
    fs.writeSync(fd, '{"id": 2}]\n');
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(0x1fffffe8);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'events', path: file, schema: z.object({ id: z.number().int() }) }));
    expect(result.sources[0]!.error).toBeUndefined();
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
  }, 60_000);
});

describe('jsonSource: an NDJSON line past 512 MB', () => {
  it('is quarantined with its line number and the records around it are stored (it failed the source with V8\'s "Cannot create a string longer than…", naming neither file nor line)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, '{"id": 1}\n{"id": 2, "blob": "');
    const filler = Buffer.alloc(16 * 1024 * 1024, 0x61);
    for (let i = 0; i < 33; i++) fs.writeSync(fd, filler);
    fs.writeSync(fd, '"}\n{"id": 3}\n');
    fs.closeSync(fd);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'events', path: file, schema: z.object({ id: z.number().int() }) }));
    expect(result.sources[0]!.error).toBeUndefined();
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const [entry] = quarantined(lake.paths.root, 'shop', 'events', result.runId);
    expect(entry).toMatchObject({ line: 2, file });
    expect(JSON.stringify(entry!.reasons)).toMatch(/512 MB/);
    expect(String(entry!.record).length).toBeLessThan(20_000);
  }, 60_000);
});

describe('file sources: very wide exports', () => {
  it('a 1,000-column CSV of a few rows extracts in seconds, not a minute (the bronze profile query grows quadratically with columns)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'wide.csv');
    const width = 1000;
    const header = Array.from({ length: width }, (_, i) => `c${i}`).join(',');
    const rows = Array.from({ length: 5 }, (_, r) => Array.from({ length: width }, (_, i) => r * i).join(','));
    fs.writeFileSync(file, `${header}\n${rows.join('\n')}\n`);
    const lake = await tempLake();
    const started = Date.now();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'wide', path: file }));
    const took = Date.now() - started;
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 5 });
    expect(took, `took ${took} ms`).toBeLessThan(20_000);
  }, 180_000);
});

describe('gzip-compressed exports (.csv.gz, .ndjson.gz, .json.gz)', () => {
  const lines = ['id,nome', '1,"São', 'Paulo"', '2,b,extra', '', '3,c', '4'];

  it('a .csv.gz is read, its ragged rows quarantined with their line in the uncompressed text (not a count of compressed bytes)', async () => {
    const file = path.join(tempDir(), 'clientes.csv.gz');
    fs.writeFileSync(file, zlib.gzipSync(lines.join('\n') + '\n'));
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'clientes', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 2 });
    const q = quarantined(lake.paths.root, 'erp', 'clientes', result.runId);
    expect(q.map((e) => [e.line, e.record])).toEqual([
      [4, '2,b,extra'],
      [7, '4'],
    ]);
  });

  it('a .csv.gz record the schema rejects is quarantined with its line too', async () => {
    const file = path.join(tempDir(), 'clientes.csv.gz');
    fs.writeFileSync(file, zlib.gzipSync(lines.join('\n') + '\n'));
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int().max(2), nome: z.string() });
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'clientes', path: file, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 3 });
    const q = quarantined(lake.paths.root, 'erp', 'clientes', result.runId);
    expect(q.map((e) => e.line).sort()).toEqual([4, 6, 7]);
  });

  it('NDJSON and array files compressed with gzip are read as their text, not quarantined as one line of binary "not UTF-8"', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.ndjson.gz'), zlib.gzipSync('{"id":1,"cidade":"São Paulo"}\n\n{"id":\n{"id":3,"cidade":"Maceió"}\n'));
    fs.writeFileSync(path.join(dir, 'b.json.gz'), zlib.gzipSync('\ufeff[\n  {"id":4,"cidade":"Recife"},\n  {"id":5,"cidade":"Natal"}\n]'));
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'cidades', glob: path.join(dir, '*.gz') }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 4, rejected: 1 });
    expect(await lake.query(`SELECT id, cidade FROM ${bronze(lake, 'erp', 'cidades')} ORDER BY id`)).toEqual([
      { id: 1, cidade: 'São Paulo' },
      { id: 3, cidade: 'Maceió' },
      { id: 4, cidade: 'Recife' },
      { id: 5, cidade: 'Natal' },
    ]);
    const q = quarantined(lake.paths.root, 'erp', 'cidades', result.runId);
    expect(q.map((e) => [e.file, e.line, e.record])).toEqual([[path.join(dir, 'a.ndjson.gz'), 3, '{"id":']]);
  });
});

describe('a zstd-compressed JSON file', () => {
  it('fails the source naming the file and the way out (Node 20 has no zstd), instead of quarantining its bytes as "not UTF-8"', async () => {
    const file = path.join(tempDir(), 'pedidos.ndjson.zst');
    fs.writeFileSync(file, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x11, 0x00, 0x00]));
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'pedidos', path: file }));
    expect(result.sources[0]).toMatchObject({ status: 'failed', rejected: 0 });
    expect(result.sources[0]!.error).toContain(file);
    expect(result.sources[0]!.error).toMatch(/zstd-compressed/);
  });
});

describe('a gzip file cut short', () => {
  it('fails the source naming the file, instead of a bare zlib "unexpected end of file"', async () => {
    const file = path.join(tempDir(), 'pedidos.ndjson.gz');
    const whole = zlib.gzipSync(Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: i, cidade: `cidade ${i * 7919}` })).join('\n'));
    fs.writeFileSync(file, whole.subarray(0, whole.length - 40));
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'pedidos', path: file }));
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toContain(file);
    expect(result.sources[0]!.error).toMatch(/not a whole gzip file/);
  });
});

describe('csvSource: a Windows-1252 export (Excel "CSV", most Brazilian ERPs)', () => {
  // “Promoção” – 10€, then a ragged row, then São João: one byte per character.
  const cp1252 = (text: string): Buffer =>
    Buffer.from([...text].map((ch) => ({ '“': 0x93, '”': 0x94, '–': 0x96, '€': 0x80 })[ch] ?? ch.charCodeAt(0)));
  const export1252 = cp1252('id;descrição;cidade\r\n1;“Promoção” – 10€;São Paulo\r\n2;ragged\r\n3;Pé de moleque;São João\r\n');

  it("encoding: 'windows-1252' reads “ ” – € and the accents, schema or not; a rejected row keeps its line and the file's name; no copy is left behind", async () => {
    const file = path.join(tempDir(), 'produtos.csv');
    fs.writeFileSync(file, export1252);
    const lake = await tempLake();
    const schema = z.object({ id: z.number(), 'descrição': z.string(), cidade: z.enum(['São Paulo']) });
    const result = await lake.extract([
      csvSource({ source: 'erp', dataset: 'inferidos', path: file, csv: { delimiter: ';', encoding: 'windows-1252' } }),
      csvSource({ source: 'erp', dataset: 'tipados', path: file, csv: { delimiter: ';', encoding: 'windows-1252' }, schema }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    expect(result.sources[1]).toMatchObject({ status: 'success', rows: 1, rejected: 2 });
    for (const dataset of ['inferidos', 'tipados']) {
      expect(await lake.query(`SELECT id, "descrição", cidade FROM ${bronze(lake, 'erp', dataset)} ORDER BY id LIMIT 1`)).toEqual([
        { id: 1, 'descrição': '“Promoção” – 10€', cidade: 'São Paulo' },
      ]);
    }
    expect(quarantined(lake.paths.root, 'erp', 'inferidos', result.runId).map((e) => [e.file, e.line, e.record])).toEqual([[file, 3, '2;ragged']]);
    const typed = quarantined(lake.paths.root, 'erp', 'tipados', result.runId).map((e) => [e.file, e.line]);
    expect(typed.sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      [file, 3],
      [file, 4],
    ]);
    expect(listFiles(path.join(lake.paths.root, '.tmp')).filter((f) => f.endsWith('.csv'))).toEqual([]);
  });

  it("read as encoding: 'latin-1' (which it is not), it fails naming the file and the way out, not DuckDB's bare \"File is not latin-1 encoded\"", async () => {
    const file = path.join(tempDir(), 'produtos.csv');
    fs.writeFileSync(file, export1252);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'produtos', path: file, csv: { delimiter: ';', encoding: 'latin-1' } }));
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toContain(file);
    expect(result.sources[0]!.error).toMatch(/encoding: 'windows-1252'/);
  });
});

describe('csvSource: a schema instant field holding text DuckDB cannot read as one (25/12/2024 14:30)', () => {
  it('is quarantined with the text as written, not stored as NULL in a nullable field (DuckDB reads it as NULL without an error)', async () => {
    const file = path.join(tempDir(), 'pedidos.csv');
    fs.writeFileSync(file, 'id;pago_em;entregue_em\n1;25/12/2024 14:30;2024-12-26 10:00:00\n2;2024-01-10 10:00:00;ontem\n3;;\n');
    const lake = await tempLake();
    const schema = z.object({ id: z.number(), pago_em: z.iso.datetime({ offset: true }).nullable(), entregue_em: z.date().nullable() });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'pedidos', path: file, csv: { delimiter: ';' }, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 2 });
    const rows = await lake.query(`SELECT id, CAST(pago_em AS VARCHAR) AS pago_em, entregue_em FROM ${bronze(lake, 'shop', 'pedidos')}`);
    expect(rows).toEqual([{ id: 3, pago_em: null, entregue_em: null }]);
    const q = quarantined(lake.paths.root, 'shop', 'pedidos', result.runId);
    expect(q.map((e) => [e.line, e.record]).sort((a, b) => (a[0] as number) - (b[0] as number))).toMatchObject([
      [2, { id: 1, pago_em: '25/12/2024 14:30' }],
      [3, { id: 2, pago_em: '2024-01-10T13:00:00.000Z', entregue_em: 'ontem' }],
    ]);
  });
});

describe('csvSource: a row DuckDB rejects for several columns at once', () => {
  it("is quarantined with its reasons in the order of its columns, every run: a file past the read buffer (32 MB) is read in parallel, and DuckDB's sort keeps no order between a row's reasons", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'medidas.csv');
    const columns = Array.from({ length: 8 }, (_, i) => `m${i}`);
    // ~35 MB: a note of 3,500 bytes per row takes it past one buffer; every third row has no number in any of its eight columns.
    const note = 'n'.repeat(3_500);
    const lines = [`id,${columns.join(',')},note`];
    for (let i = 0; i < 10_000; i++) lines.push(`${i},${columns.map(() => (i % 3 === 0 ? 'x' : String(i))).join(',')},${note}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const schema = z.object({ id: z.number().int(), ...Object.fromEntries(columns.map((c) => [c, z.number()])), note: z.string() });
    const lake = await tempLake();
    // Two reads of the file: each is a chance for the parallel read to order the reasons otherwise (about one in two, unfixed).
    const datasets = ['leituras', 'releituras'];
    const result = await lake.extract(datasets.map((dataset) => csvSource({ source: 'medidas', dataset, path: file, schema })));
    for (const dataset of datasets) {
      expect(result.sources.find((s) => s.dataset === dataset)).toMatchObject({ status: 'success', rows: 6_666, rejected: 3_334 });
      const q = quarantined(lake.paths.root, 'medidas', dataset, result.runId);
      const outOfOrder = q.filter((e) => [...e.reasons[0]!.message.matchAll(/in column "(m\d)"/g)].map((m) => m[1]).join() !== columns.join());
      expect(outOfOrder.map((e) => [e.line, e.reasons[0]!.message.slice(0, 120)]), dataset).toEqual([]);
    }
  }, 120_000);
});
