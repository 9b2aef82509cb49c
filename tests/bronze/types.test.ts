import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { sqlTypeOf } from '../../src/bronze/schema-map.js';
import { tempLake } from '../helpers/temp-lake.js';

describe('zod → DuckDB type mapping', () => {
  it('maps each zod type to the documented DuckDB type', () => {
    expect(sqlTypeOf(z.string())).toBe('VARCHAR');
    expect(sqlTypeOf(z.number())).toBe('DOUBLE');
    expect(sqlTypeOf(z.number().int())).toBe('BIGINT');
    expect(sqlTypeOf(z.int())).toBe('BIGINT');
    expect(sqlTypeOf(z.boolean())).toBe('BOOLEAN');
    expect(sqlTypeOf(z.date())).toBe('TIMESTAMPTZ');
    expect(sqlTypeOf(z.iso.datetime())).toBe('TIMESTAMPTZ');
    expect(sqlTypeOf(z.string().datetime({ offset: true }))).toBe('TIMESTAMPTZ');
    expect(sqlTypeOf(z.iso.date())).toBe('DATE');
    expect(sqlTypeOf(z.enum(['a', 'b']))).toBe('VARCHAR');
    expect(sqlTypeOf(z.string().optional())).toBe('VARCHAR');
    expect(sqlTypeOf(z.number().nullable().default(1))).toBe('DOUBLE');
    expect(sqlTypeOf(z.object({ a: z.number().int(), b: z.string() }))).toBe('STRUCT("a" BIGINT, "b" VARCHAR)');
    expect(sqlTypeOf(z.array(z.object({ x: z.boolean() })))).toBe('STRUCT("x" BOOLEAN)[]');
    expect(sqlTypeOf(z.any())).toBe('JSON');
    expect(sqlTypeOf(z.union([z.string(), z.number()]))).toBe('JSON');
    expect(sqlTypeOf(z.record(z.string(), z.number()))).toBe('JSON');
    expect(sqlTypeOf(z.bigint())).toBe('DECIMAL(38,0)'); // HUGEINT would be DOUBLE in Parquet
  });

  it('round-trips every mapped type through bronze Parquet', async () => {
    const lake = await tempLake();
    const schema = z.object({
      s: z.string(),
      n: z.number(),
      i: z.number().int(),
      big: z.number().int(),
      b: z.boolean(),
      ts: z.iso.datetime({ offset: true }),
      d: z.iso.date(),
      jsdate: z.date(),
      e: z.enum(['x', 'y']),
      opt: z.string().optional(),
      nul: z.number().nullable(),
      obj: z.object({ a: z.number().int(), b: z.string(), when: z.iso.datetime({ offset: true }) }),
      arr: z.array(z.number()),
      objs: z.array(z.object({ sku: z.string(), price: z.number() })),
      any: z.any(),
      union: z.union([z.string(), z.number()]),
    });
    const rows = [
      {
        s: 'olá "mundo"',
        n: 12.5,
        i: -3,
        big: 2 ** 53 - 1,
        b: true,
        ts: '2026-03-05T14:22:10.000-03:00',
        d: '2026-03-05',
        jsdate: new Date('2026-01-02T03:04:05.678Z'),
        e: 'x' as const,
        opt: 'here',
        nul: 1,
        obj: { a: 1, b: 'b', when: '2026-01-01T00:00:00Z' },
        arr: [1, 2.5],
        objs: [{ sku: 'A', price: 9.99 }],
        any: { nested: [1, 'two', { three: 3 }] },
        union: 7,
      },
      {
        s: '',
        n: -0.001,
        i: 0,
        big: -(2 ** 40),
        b: false,
        ts: '2026-03-05T23:59:59Z',
        d: '2024-02-29',
        jsdate: new Date('1999-12-31T23:59:59.000Z'),
        e: 'y' as const,
        nul: null,
        obj: { a: -1, b: '', when: '2026-06-01T12:00:00+02:00' },
        arr: [],
        objs: [],
        any: null,
        union: 'seven',
      },
    ];
    const source = defineSource({ source: 'types', dataset: 'all', schema, extract: () => [rows] });
    const result = await lake.extract([source]);
    expect(result.status).toBe('success');
    expect(result.sources[0]).toMatchObject({ rows: 2, rejected: 0 });

    const glob = `${lake.paths.bronze}/types/all/**/*.parquet`;
    const types = await lake.query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${glob}'))`);
    const typeOf = Object.fromEntries(types.map((r) => [r.column_name, r.column_type]));
    expect(typeOf).toMatchObject({
      s: 'VARCHAR',
      n: 'DOUBLE',
      i: 'BIGINT',
      b: 'BOOLEAN',
      ts: 'TIMESTAMP WITH TIME ZONE',
      d: 'DATE',
      jsdate: 'TIMESTAMP WITH TIME ZONE',
      e: 'VARCHAR',
      opt: 'VARCHAR',
      nul: 'DOUBLE',
      obj: 'STRUCT(a BIGINT, b VARCHAR, "when" TIMESTAMP WITH TIME ZONE)',
      arr: 'DOUBLE[]',
      objs: 'STRUCT(sku VARCHAR, price DOUBLE)[]',
      any: 'JSON',
      union: 'JSON',
      _run_id: 'VARCHAR',
      _extracted_at: 'TIMESTAMP WITH TIME ZONE',
    });

    const back = await lake.query(`SELECT * EXCLUDE (year, month, day) FROM read_parquet('${glob}', hive_partitioning = true) ORDER BY n DESC`);
    expect(back).toHaveLength(2);
    const [a, b] = back as Record<string, unknown>[];
    expect(a).toMatchObject({ s: 'olá "mundo"', n: 12.5, i: -3, big: 2 ** 53 - 1, b: true, d: '2026-03-05', e: 'x', opt: 'here', nul: 1 });
    expect((a!.ts as Date).toISOString()).toBe('2026-03-05T17:22:10.000Z');
    expect((a!.jsdate as Date).toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(a!.obj).toEqual({ a: 1, b: 'b', when: new Date('2026-01-01T00:00:00Z') });
    expect(a!.arr).toEqual([1, 2.5]);
    expect(a!.objs).toEqual([{ sku: 'A', price: 9.99 }]);
    expect(JSON.parse(a!.any as string)).toEqual({ nested: [1, 'two', { three: 3 }] });
    expect(JSON.parse(a!.union as string)).toBe(7);
    expect(a!._run_id).toBe(result.runId);
    expect(a!._extracted_at).toBeInstanceOf(Date);
    expect(b).toMatchObject({ s: '', i: 0, big: -(2 ** 40), b: false, d: '2024-02-29', opt: null, nul: null, arr: [], objs: [], any: null });
    expect(JSON.parse(b!.union as string)).toBe('seven');
    expect((b!.obj as { when: Date }).when.toISOString()).toBe('2026-06-01T10:00:00.000Z');
  });
});

describe('nested optional fields', () => {
  it('a nested key the record leaves out (as zod allows) is NULL, in structs and lists of structs', async () => {
    const lake = await tempLake();
    const schema = z.object({
      offer: z.object({ price: z.number(), until: z.string().nullable().optional() }),
      sellers: z.array(z.object({ id: z.string(), name: z.string().optional() })),
    });
    const source = defineSource({ source: 'nested', dataset: 'opt', schema, extract: () => [[{ offer: { price: 1 }, sellers: [{ id: 'a' }, { id: 'b', name: 'B' }] }]] });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    const rows = await lake.query(`SELECT offer, sellers FROM read_parquet('${lake.paths.bronze}/nested/opt/**/*.parquet')`);
    expect(rows).toEqual([{ offer: { price: 1, until: null }, sellers: [{ id: 'a', name: null }, { id: 'b', name: 'B' }] }]);
  });
});

describe('_extracted_at', () => {
  it('is the extraction instant to the millisecond, and its date in the lake time zone names the day partition', async () => {
    const lake = await tempLake();
    // 02:34 UTC is still the day before in São Paulo (UTC−3).
    const at = new Date('2026-03-05T02:34:56.789Z');
    const source = defineSource({ source: 'when', dataset: 'rows', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }, { id: 2 }]] });
    await lake.extract([source], { extractedAt: at });
    const files = path.join(lake.paths.root, 'bronze', 'when', 'rows', '**', '*.parquet');
    const rows = await lake.query(`SELECT id, _extracted_at, epoch_ms(_extracted_at) AS ms, year, month, day FROM read_parquet('${files}', hive_partitioning = true) ORDER BY id`);
    expect(rows.map((r) => [r.id, (r._extracted_at as Date).toISOString(), Number(r.ms), String(r.year), String(r.month), String(r.day)])).toEqual([
      [1, '2026-03-05T02:34:56.789Z', at.getTime(), '2026', '03', '04'],
      [2, '2026-03-05T02:34:56.789Z', at.getTime(), '2026', '03', '04'],
    ]);
  });
});
