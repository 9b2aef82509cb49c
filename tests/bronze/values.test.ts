/**
 * Values zod accepts that a column cannot take as they are: they are stored faithfully or sent
 * to quarantine with the field named — never written as "[object Object]", never failing the
 * batch with the records beside them.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defineSource, z } from '../../src/index.js';
import { quarantined } from '../helpers/quarantine.js';
import { tempLake } from '../helpers/temp-lake.js';


describe('values zod accepts and bronze must keep', () => {
  it('a transform whose output is an object or a Date is stored as JSON text or ISO text, not "[object Object]"', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'vals',
      dataset: 'tx',
      schema: z.object({ id: z.number(), meta: z.string().transform((s) => JSON.parse(s) as unknown), when: z.string().transform((s) => new Date(s)) }),
      extract: () => [[{ id: 1, meta: '{"color":"red","n":[1,2]}', when: '2026-01-01T00:00:00Z' }]],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
    const [row] = await lake.bronze<{ meta: string; when: string }>('vals/tx');
    expect(JSON.parse(row!.meta)).toEqual({ color: 'red', n: [1, 2] });
    expect(row!.when).toBe('2026-01-01T00:00:00.000Z');
  });

  it("a transform whose output does not fit the column's type sends its record to quarantine, naming the field", async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'vals',
      dataset: 'misfit',
      schema: z.object({ id: z.number(), price: z.number().transform((n) => (n < 0 ? { refund: -n } : n)) }),
      extract: () => [[{ id: 1, price: 9.5 }, { id: 2, price: -3 }, { id: 3, price: 1 }]],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const [q] = quarantined(lake.paths.root, 'vals', 'misfit', result.runId);
    expect(q).toMatchObject({ position: 2, record: { id: 2, price: -3 }, reasons: [{ path: 'price', code: 'unstorable_value' }] });
    expect(q!.reasons[0]!.message).toMatch(/field "price": a object does not fit DOUBLE/);
    expect((await lake.bronze<{ id: number; price: number }>('vals/misfit')).map((r) => [r.id, r.price])).toEqual([[1, 9.5], [3, 1]]);
  });

  it('dates past year 9999 (epoch microseconds read as milliseconds) are stored, and so are the records beside them', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'vals',
      dataset: 'far',
      schema: z.object({ id: z.number().int(), at: z.coerce.date(), nested: z.object({ at: z.date() }).optional() }),
      extract: () => [[{ id: 1, at: 1_700_000_000_000 }, { id: 2, at: 1_700_000_000_000_000, nested: { at: new Date(1_700_000_000_000_000) } }]],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const rows = await lake.query(`SELECT id, year("at") AS y, year("nested"."at") AS ny FROM read_parquet('${path.join(lake.paths.bronze, 'vals', 'far')}/**/*.parquet') ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, y: 2023, ny: null },
      { id: 2, y: 55840, ny: 55840 },
    ]);
  });

  it('z.bigint() keeps every digit in bronze (DECIMAL(38,0), not HUGEINT that Parquet stores as DOUBLE); past 38 digits the record is quarantined', async () => {
    const lake = await tempLake();
    const big = 123456789012345678901234567890123456n;
    const source = defineSource({
      source: 'vals',
      dataset: 'big',
      schema: z.object({ id: z.number().int(), n: z.bigint() }),
      extract: () => [[{ id: 1, n: 9007199254740993n }, { id: 2, n: -big }, { id: 3, n: 10n ** 38n }, { id: 4, n: 5n }]],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    const [q] = quarantined(lake.paths.root, 'vals', 'big', result.runId);
    expect(q).toMatchObject({ position: 3, reasons: [{ path: 'n', code: 'unstorable_value' }] });
    expect(q!.reasons[0]!.message).toMatch(/has more than 38 digits/);
    const rows = await lake.query(`SELECT id, n::VARCHAR AS n, typeof(n) AS t FROM read_parquet('${path.join(lake.paths.bronze, 'vals', 'big')}/**/*.parquet') ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, n: '9007199254740993', t: 'DECIMAL(38,0)' },
      { id: 2, n: `-${big}`, t: 'DECIMAL(38,0)' },
      { id: 4, n: '5', t: 'DECIMAL(38,0)' },
    ]);
  });

  it('lake.bronze gives a z.bigint() past 2^53 back as the exact bigint (DECIMAL(38,0) is an integer), one within ±2^53 as a number', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'vals',
      dataset: 'big',
      schema: z.object({ id: z.number().int(), n: z.bigint() }),
      extract: () => [[{ id: 1, n: 9007199254740993n }, { id: 2, n: 5n }]],
    });
    await lake.extract(source);
    const rows = await lake.bronze<{ id: number; n: number | bigint }>('vals/big');
    expect(rows.map((r) => [r.id, r.n]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([[1, 9007199254740993n], [2, 5]]);
  });

  it.each([
    ['top level', z.object({ id: z.number(), ID: z.string() }), /fields "id" and "ID" differ only in case/],
    ['nested', z.object({ item: z.object({ A: z.number(), a: z.number() }) }), /fields "item\.A" and "item\.a" differ only in case/],
    ['in an array', z.object({ items: z.array(z.object({ sku: z.string(), SKU: z.string() })) }), /fields "items\[\]\.sku" and "items\[\]\.SKU" differ only in case/],
  ] as [string, z.ZodObject, RegExp][])('fields differing only in case (%s) are refused when the source is defined, naming both', (_label, schema, message) => {
    const define = () => defineSource({ source: 'vals', dataset: 'cased', schema: schema as z.ZodType<Record<string, unknown>>, extract: () => [] });
    expect(define).toThrow(ConfigError);
    expect(define).toThrow(message);
  });

  it('every value and NULL of a long batch comes back as it was: data chunks are refilled, NULLs and text of one chunk never showing in the next', async () => {
    const lake = await tempLake();
    const kinds = ['', 'a', 'abcdefghijklm', 'ção', 'a\u0000b', 'x'.repeat(100), null];
    // 40,000 rows: 19 full chunks of 2,048 and a short one; NULLs fall on other rows in each chunk (2,048 is no multiple of 7 or 11).
    const records = Array.from({ length: 40_000 }, (_, i) => ({
      id: i,
      v: kinds[i % kinds.length]!,
      x: i % 11 === 3 ? null : i % 13 === 0 ? -0 : i * 1.5,
      b: i % 7 === 2 ? null : i % 2 === 0,
      n: i % 5 === 1 ? null : 2 ** 53 - 1 - i,
    }));
    const source = defineSource({
      source: 'vals',
      dataset: 'long',
      schema: z.object({ id: z.number().int(), v: z.string().nullable(), x: z.number().nullable(), b: z.boolean().nullable(), n: z.number().int().nullable() }),
      extract: () => [records],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: records.length, rejected: 0 });
    const rows = await lake.query<{ id: number; v: string | null; x: number | null; b: boolean | null; n: number | null }>(
      `SELECT id, v, x, b, n FROM read_parquet('${path.join(lake.paths.bronze, 'vals', 'long')}/**/*.parquet', hive_partitioning = false) ORDER BY id`,
    );
    expect(rows.length).toBe(records.length);
    const wrong = rows.filter((r, i) => JSON.stringify(r) !== JSON.stringify(records[i]) || !Object.is(r.x, records[i]!.x));
    expect(wrong.slice(0, 3)).toEqual([]);
  });
});

