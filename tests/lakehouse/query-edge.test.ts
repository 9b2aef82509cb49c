import * as arrow from 'apache-arrow';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, DuckhouseError, QueryError } from '../../src/index.js';
import { listTree } from '../../src/fs-list.js';
import { runCli } from '../helpers/cli.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { projectLake } from '../helpers/models.js';
import { tempDir, tempLake, tempProject } from '../helpers/temp-lake.js';

const typesOf = (t: arrow.Table): string[] => t.schema.fields.map((f) => `${f.name}:${f.type}`);
const rowsOf = (t: arrow.Table): unknown[] => t.toArray().map((r) => r.toJSON());
/** Arrow values as plain JS, recursively: Vector → array, StructRow/MapRow → object. */
function plain(x: unknown): unknown {
  if (x instanceof arrow.Vector) return [...x].map(plain);
  if (x === null || typeof x !== 'object' || x instanceof Uint8Array) return x;
  const json = 'toJSON' in x ? (x as { toJSON(): object }).toJSON() : x;
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, plain(v)]));
}
const cell = (t: arrow.Table, name: string, row = 0): unknown => plain(t.getChild(name)!.get(row));

describe('lake.queryArrow: nested and non-scalar DuckDB types get explicit Arrow types', () => {
  it('VARCHAR[] → List<Utf8>', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select ['a', 'b'] as tags union all select [] union all select ['c', NULL]`);
    expect(typesOf(t)).toEqual(['tags:List<Utf8>']);
    expect(t.numRows).toBe(3);
    expect([...t.getChild('tags')!.get(0)!]).toEqual(['a', 'b']);
    expect([0, 1, 2].map((i) => cell(t, 'tags', i))).toEqual([['a', 'b'], [], ['c', null]]);
  });

  it('BIGINT[] mixing values above and below 2^53 → List<Int64> with exact bigints', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select [9007199254740993::BIGINT, 1::BIGINT, (-9223372036854775807 - 1)::BIGINT] as ids`);
    expect(typesOf(t)).toEqual(['ids:List<Int64>']);
    expect(cell(t, 'ids')).toEqual([9007199254740993n, 1n, -9223372036854775808n]);
  });

  it('DATE[] → List<Date32<DAY>>, with NULL elements', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select [DATE '2024-01-02', NULL, DATE '1900-03-01'] as ds`);
    expect(typesOf(t)).toEqual(['ds:List<Date32<DAY>>']);
    expect(cell(t, 'ds')).toEqual([Date.UTC(2024, 0, 2), null, Date.UTC(1900, 2, 1)]);
  });

  it('STRUCT → Struct with the same field names, order and types', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select {'b': 1, 'a': 'x', 'c': [1, 2], 'd': 2.5::DECIMAL(10,2)} as s union all select NULL union all select {'b': NULL, 'a': NULL, 'c': NULL, 'd': NULL}`);
    expect(typesOf(t)).toEqual(['s:Struct<{b:Int32, a:Utf8, c:List<Int32>, d:Float64}>']);
    expect(cell(t, 's', 0)).toEqual({ b: 1, a: 'x', c: [1, 2], d: 2.5 });
    expect(t.getChild('s')!.get(1)).toBeNull();
    expect(cell(t, 's', 2)).toEqual({ b: null, a: null, c: null, d: null });
  });

  it('STRUCT[] → List<Struct> (bronze array(object) columns)', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select [{'sku': 'x', 'qty': 2}, {'sku': 'y', 'qty': NULL}] as items`);
    expect(t.numRows).toBe(1);
    expect(typesOf(t)).toEqual(['items:List<Struct<{sku:Utf8, qty:Int32}>>']);
    expect(cell(t, 'items')).toEqual([{ sku: 'x', qty: 2 }, { sku: 'y', qty: null }]);
  });

  it('MAP(VARCHAR, INTEGER) → Map<{key:Utf8, value:Int32}>', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select MAP {'k1': 1, 'k2': NULL}::MAP(VARCHAR, INTEGER) as m union all select MAP {}::MAP(VARCHAR, INTEGER) union all select NULL`);
    expect(typesOf(t)).toEqual(['m:Map<{key:Utf8, value:Int32}>']);
    expect(cell(t, 'm', 0)).toEqual({ k1: 1, k2: null });
    expect(cell(t, 'm', 1)).toEqual({});
    expect(t.getChild('m')!.get(2)).toBeNull();
  });

  it('BLOB → Binary holding the bytes', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select '\\xAA\\x00\\x01'::BLOB as b union all select NULL`);
    expect(typesOf(t)).toEqual(['b:Binary']);
    const bytes = t.getChild('b')!.get(0);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes!]).toEqual([0xaa, 0x00, 0x01]);
    expect(t.getChild('b')!.get(1)).toBeNull();
  });

  it('NULL::INT[] → List<Int32> (not a guessed Float64)', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select NULL::INT[] as l`);
    expect(typesOf(t)).toEqual(['l:List<Int32>']);
    expect(t.getChild('l')!.get(0)).toBeNull();
  });

  it('nested integers keep their integer types (not Float64)', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select [[1, 2], [3]] as nn, {'x': {'y': 5::BIGINT, 'z': 7::SMALLINT}} as ns, [{'k': [1::TINYINT]}] as deep`);
    expect(typesOf(t)).toEqual(['nn:List<List<Int32>>', 'ns:Struct<{x:Struct<{y:Int64, z:Int16}>}>', 'deep:List<Struct<{k:List<Int8>}>>']);
    expect(cell(t, 'nn')).toEqual([[1, 2], [3]]);
    expect(cell(t, 'ns')).toEqual({ x: { y: 5n, z: 7 } });
    expect(cell(t, 'deep')).toEqual([{ k: [1] }]);
  });

  it('an empty result of a list column is a 0-row Table with the list type', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select [1, 2] as l, [{'a': 'x'}] as s, MAP {'k': 1} as m from range(3) where false`);
    expect(t.numRows).toBe(0);
    expect(typesOf(t)).toEqual(['l:List<Int32>', 's:List<Struct<{a:Utf8}>>', 'm:Map<{key:Utf8, value:Int32}>']);
  });

  it('fixed-size ARRAY, TIMESTAMP(TZ) lists, HUGEINT, TIME and INTERVAL get explicit types too', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(
      `select [1, 2]::INT[2] as a, [TIMESTAMP '2024-01-01 00:00:01.5'] as ts, [TIMESTAMPTZ '2024-01-01 00:00:00+00'] as tz,
              [170141183460469231731687303715884105727::HUGEINT] as h, [TIME '12:00:00'] as tm, [INTERVAL 1 DAY] as i`,
    );
    expect(typesOf(t)).toEqual([
      'a:FixedSizeList[2]<Int32>',
      'ts:List<Timestamp<MILLISECOND>>',
      'tz:List<Timestamp<MILLISECOND, UTC>>',
      'h:List<Utf8>',
      'tm:List<Utf8>',
      'i:List<Utf8>',
    ]);
    expect(rowsOf(t).map(plain)).toEqual([
      {
        a: [1, 2],
        ts: [Date.UTC(2024, 0, 1, 0, 0, 1, 500)],
        tz: [Date.UTC(2024, 0, 1)],
        h: ['170141183460469231731687303715884105727'],
        tm: ['12:00:00'],
        i: ['1 day'],
      },
    ]);
  });

  it('the nested Table is well-formed: it survives an Arrow IPC round trip', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(
      `select range as id, [range::VARCHAR, NULL] as tags, [{'sku': 'x' || range, 'qty': range}] as items, MAP {'k': range::INTEGER} as m, 'ab'::BLOB as b from range(3)`,
    );
    const back = arrow.tableFromIPC(arrow.tableToIPC(t));
    expect(typesOf(back)).toEqual(typesOf(t));
    expect(cell(back, 'items', 2)).toEqual([{ sku: 'x2', qty: 2n }]);
    expect(cell(back, 'tags', 1)).toEqual(['1', null]);
    expect(cell(back, 'm', 0)).toEqual({ k: 0 });
  });

  it('infinite DATE / TIMESTAMP values do not throw: DATE as DuckDB stores it, timestamps at the JS Date limits', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`select 'infinity'::DATE as d, '-infinity'::TIMESTAMP as t, 'infinity'::TIMESTAMPTZ as tz, ['infinity'::DATE] as dl`);
    expect(typesOf(t)).toEqual(['d:Date32<DAY>', 't:Timestamp<MILLISECOND>', 'tz:Timestamp<MILLISECOND, UTC>', 'dl:List<Date32<DAY>>']);
    expect(rowsOf(t).length).toBe(1);
    expect(t.getChild('d')!.get(0)).toBe((2 ** 31 - 1) * 86_400_000);
    expect(t.getChild('t')!.get(0)).toBe(-8.64e15);
    expect(t.getChild('tz')!.get(0)).toBe(8.64e15);
  });

  it('finite timestamps past a JS Date\'s range are clamped to its limits: the Table reads without throwing', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`SELECT TIMESTAMP '290000-01-01 00:00:00' AS t, TIMESTAMPTZ '-290000-01-01 00:00:00+00' AS tz, TIMESTAMP '2026-01-01 00:00:00' AS ok`);
    expect(() => rowsOf(t)).not.toThrow();
    expect(t.getChild('t')!.get(0)).toBe(8.64e15);
    expect(t.getChild('tz')!.get(0)).toBe(-8.64e15);
    expect(t.getChild('ok')!.get(0)).toBe(Date.UTC(2026, 0, 1));
  });
});

describe('lake.queryArrow: a large result', () => {
  it('builds its Table within a 200 MB heap for a million rows of three columns (every column\'s values and their converted copies, held at once, needed over 300 MB)', async () => {
    const root = path.join(tempDir(), 'data');
    const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'child-arrow-heap.ts');
    const r = spawnSync(process.execPath, ['--max-old-space-size=200', '--import', 'tsx', helper, root], { encoding: 'utf8', env: { ...process.env, VITEST: 'true' } });
    expect(r.stderr).not.toMatch(/heap out of memory/);
    expect(r.status, r.stderr.slice(0, 500)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ rows: 1_000_000, last: '999999', price: 1234.56 });
  }, 120_000);
});

describe('lake.query: infinite DATE and TIMESTAMP values', () => {
  it('returns a finite timestamp past a JS Date\'s range as DuckDB\'s text for it instead of throwing', async () => {
    const lake = await tempLake();
    const [row] = await lake.query(`select TIMESTAMP '290000-01-01 00:00:00' as t, TIMESTAMPTZ '290000-01-01 00:00:00+00' as tz, [TIMESTAMP '-290000-01-01 00:00:00'] as l, TIMESTAMP '2024-01-01 00:00:00' as ok`);
    expect(row).toEqual({ t: '290000-01-01 00:00:00', tz: '290000-01-01 00:00:00+00', l: ['290001-01-01 (BC) 00:00:00'], ok: new Date('2024-01-01T00:00:00Z') });
  });

  it("returns DuckDB's infinite DATE as 'infinity' / '-infinity', not as a made-up calendar date", async () => {
    const lake = await tempLake();
    const [row] = await lake.query(`select 'infinity'::DATE as d, '-infinity'::DATE as nd, DATE '2024-01-02' as od, NULL::DATE as n`);
    expect(row).toEqual({ d: 'infinity', nd: '-infinity', od: '2024-01-02', n: null });
  });

  it("returns infinite TIMESTAMP / TIMESTAMPTZ (and _S/_MS/_NS) as 'infinity' / '-infinity' instead of throwing", async () => {
    const lake = await tempLake();
    const [row] = await lake.query(
      `select 'infinity'::TIMESTAMP as t, '-infinity'::TIMESTAMP as nt, 'infinity'::TIMESTAMPTZ as tz, '-infinity'::TIMESTAMPTZ as ntz,
              TIMESTAMP '2024-01-01 12:00:00' as ot, TIMESTAMPTZ '2024-01-01 12:00:00+00' as otz,
              'infinity'::TIMESTAMP_S as s, '-infinity'::TIMESTAMP_MS as ms, 'infinity'::TIMESTAMP_NS as ns, TIMESTAMP_NS '2024-01-01 00:00:00' as ons`,
    );
    expect(row).toEqual({
      t: 'infinity',
      nt: '-infinity',
      tz: 'infinity',
      ntz: '-infinity',
      ot: new Date('2024-01-01T12:00:00Z'),
      otz: new Date('2024-01-01T12:00:00Z'),
      s: 'infinity',
      ms: '-infinity',
      ns: 'infinity',
      ons: new Date('2024-01-01T00:00:00Z'),
    });
  });

  it('handles infinite values at any depth and mixed with finite ones in the same column', async () => {
    const lake = await tempLake();
    const rows = await lake.query(
      `select * from (values (1, ['infinity'::DATE, DATE '2024-01-02'], {'at': 'infinity'::TIMESTAMP}, MAP {'k': '-infinity'::TIMESTAMPTZ}),
                             (2, [], {'at': TIMESTAMP '2024-01-01'}, MAP {'k': TIMESTAMPTZ '2024-01-01 00:00:00+00'})) v(id, ds, s, m) order by id`,
    );
    expect(rows).toEqual([
      { id: 1, ds: ['infinity', '2024-01-02'], s: { at: 'infinity' }, m: [{ key: 'k', value: '-infinity' }] },
      { id: 2, ds: [], s: { at: new Date('2024-01-01T00:00:00Z') }, m: [{ key: 'k', value: new Date('2024-01-01T00:00:00Z') }] },
    ]);
  });
});

describe('lake.query: nested values, as the README documents them', () => {
  it('a LIST is an array, a STRUCT an object, a MAP an array of { key, value } entries in order, its keys keeping their type', async () => {
    const lake = await tempLake();
    const rows = await lake.query(
      `select [3, NULL, 1] as l, {'a': 1, 'b': [DATE '2026-01-02']} as s,
              MAP {2: 'two', 1: NULL} as mi, MAP {DATE '2026-01-02': [1.5]} as md, MAP {}::MAP(VARCHAR, INTEGER) as me, NULL::MAP(VARCHAR, INTEGER) as mn`,
    );
    expect(rows).toEqual([
      {
        l: [3, null, 1],
        s: { a: 1, b: ['2026-01-02'] },
        mi: [{ key: 2, value: 'two' }, { key: 1, value: null }],
        md: [{ key: '2026-01-02', value: [1.5] }],
        me: [],
        mn: null,
      },
    ]);
  });
});

describe('lake.query: DECIMAL of scale 0 is an integer', () => {
  it('comes back as the integer types do: a number within ±2^53, else an exact bigint; other DECIMALs as numbers', async () => {
    const lake = await tempLake();
    const rows = await lake.query(`SELECT 9007199254740993::DECIMAL(38,0) AS big, -12345678901234567890123::DECIMAL(38,0) AS neg, 42::DECIMAL(38,0) AS small, 12.5::DECIMAL(18,2) AS money, [9007199254740993::DECIMAL(38,0)] AS list`);
    expect(rows).toEqual([{ big: 9007199254740993n, neg: -12345678901234567890123n, small: 42, money: 12.5, list: [9007199254740993n] }]);
  });

  it('a BIGNUM comes back as HUGEINT does: a number within ±2^53 (was always a bigint), else an exact bigint', async () => {
    const lake = await tempLake();
    const rows = await lake.query(`SELECT 42::BIGNUM AS small, -9007199254740991::BIGNUM AS edge, 123456789012345678901234567890::BIGNUM AS big, [7::BIGNUM] AS list`);
    expect(rows).toEqual([{ small: 42, edge: -9007199254740991, big: 123456789012345678901234567890n, list: [7] }]);
  });

  it('lake.queryArrow keeps its digits too: Int64 up to DECIMAL(18,0), decimal text (as HUGEINT) past it; not a rounding Float64', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`SELECT 9007199254740993::DECIMAL(18,0) AS big18, -12345678901234567890123::DECIMAL(38,0) AS neg, 42::DECIMAL(38,0) AS small, 12.5::DECIMAL(18,2) AS money, [9007199254740993::DECIMAL(38,0)] AS list`);
    expect(typesOf(t)).toEqual(['big18:Int64', 'neg:Utf8', 'small:Utf8', 'money:Float64', 'list:List<Utf8>']);
    // Was Float64: 9007199254740992 and -1.2345678901234568e+22, while lake.query gave the exact bigints.
    expect(rowsOf(t).map(plain)).toEqual([{ big18: 9007199254740993n, neg: '-12345678901234567890123', small: '42', money: 12.5, list: ['9007199254740993'] }]);
  });
});

describe('lake.query: a column named __proto__', () => {
  it('comes back as a field of each row, not as the row\'s prototype (the column was missing, a struct\'s fields showed through)', async () => {
    const lake = await tempLake();
    const rows = await lake.query<Record<string, unknown>>(`SELECT * FROM (VALUES ({'a': 2}, 3), ({'a': 4}, 5)) AS t("__proto__", b)`);
    expect(rows.map((r) => [Object.keys(r), Object.getOwnPropertyDescriptor(r, '__proto__')?.value, Object.getPrototypeOf(r) === Object.prototype, r.a])).toEqual([
      [['__proto__', 'b'], { a: 2 }, true, undefined],
      [['__proto__', 'b'], { a: 4 }, true, undefined],
    ]);
  });

  it('lake.queryArrow keeps it as a column too', async () => {
    const lake = await tempLake();
    const t = await lake.queryArrow(`SELECT 1 AS "__proto__", 2 AS b`);
    expect(typesOf(t)).toEqual(['__proto__:Int32', 'b:Int32']);
    expect([t.getChild('__proto__')?.get(0), t.getChild('b')?.get(0)]).toEqual([1, 2]);
  });
});

describe('lake.query and `duckhouse sql` stay read-only under EXPLAIN ANALYZE (it runs what it explains)', () => {
  it('refuses EXPLAIN ANALYZE of a COPY … TO or a CREATE TABLE, and writes nothing; EXPLAIN ANALYZE of a SELECT and a plain EXPLAIN still run', async () => {
    const lake = await tempLake();
    const out = path.join(tempDir(), 'written.csv');
    await expect(lake.query(`EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO '${out}'`)).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY' });
    await expect(lake.query(`/* why */ explain (analyze, format json) COPY (SELECT 42 AS x) TO '${out}'`)).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY' });
    expect(fs.existsSync(out)).toBe(false);
    await expect(lake.query(`EXPLAIN ANALYZE CREATE TABLE memory.main.sneaky AS SELECT 1 AS x`)).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY' });
    await expect(lake.query(`SELECT count(*) AS n FROM memory.main.sneaky`)).rejects.toThrow(/sneaky/);
    expect((await lake.query(`EXPLAIN ANALYZE SELECT 42 AS x`)).length).toBeGreaterThan(0);
    expect((await lake.query(`EXPLAIN CREATE TABLE memory.main.sneaky AS SELECT 1 AS x`)).length).toBeGreaterThan(0);
    await expect(lake.query(`SELECT count(*) AS n FROM memory.main.sneaky`)).rejects.toThrow(/sneaky/);
  });

  it('`duckhouse sql "EXPLAIN ANALYZE COPY …"` is a usage error (exit 2) and writes nothing', () => {
    const dir = tempProject('duckhouse-cli-');
    const out = path.join(dir, 'written.csv');
    const r = runCli(dir, ['sql', `EXPLAIN ANALYZE COPY (SELECT 42 AS x) TO '${out}'`, '--root', path.join(dir, 'data')]);
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.err).toMatch(/read-only/);
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);
});

describe('lake.query: a PIVOT without an IN list is one statement', () => {
  // DuckDB expands it into two: a CREATE TYPE (an ENUM of the pivoted values), then the SELECT.
  const dynamic = `pivot (select 'x' as k, 1 as v union all select 'y', 2) on k using sum(v)`;
  const pivotEnums = `select count(*) as n from duckdb_types() where type_name like '\\_\\_pivot\\_enum%' escape '\\'`;

  it('runs (was "expected one SQL statement, got 2") and leaves no type behind', async () => {
    const lake = await tempLake();
    expect(await lake.query(`pivot (select 'x' as k, 1 as v) on k in ('x') using sum(v)`)).toEqual([{ x: 1 }]);
    expect(await lake.query(dynamic)).toEqual([{ x: 1, y: 2 }]);
    expect(await lake.query(`${dynamic};`)).toEqual([{ x: 1, y: 2 }]);
    expect(await lake.query(pivotEnums)).toEqual([{ n: 0 }]);
  });

  it('runs on the read-only analytics.duckdb, as does its DESCRIBE', async () => {
    const { lake } = await projectLake({ 'marts/kv.sql': `select 'x' as k, 1 as v union all select 'y', 2` });
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('pivot marts.kv on k using sum(v)')).toEqual([{ x: 1, y: 2 }]);
    expect((await lake.query('describe pivot marts.kv on k using sum(v)')).map((r) => r.column_name)).toEqual(['x', 'y']);
  });

  it('two statements the user wrote are still refused, and nothing of the first is run', async () => {
    const lake = await tempLake();
    await expect(lake.query(`create temp table t as select 1 as x; select * from t`)).rejects.toThrow('lake.query: expected one SQL statement, got 2');
    await expect(lake.query(`create temp type e as enum ('a'); ${dynamic}`)).rejects.toThrow(/expected one SQL statement, got 3/);
    await expect(lake.query('select * from t')).rejects.toThrow(/\bt\b/);
    // A `;` inside a string, a quoted name or a comment does not separate statements.
    expect(await lake.query(`pivot (select 'x;' as k, 1 as v) on k using sum(v) /* ; */ -- ;`)).toEqual([{ 'x;': 1 }]);
    await expect(lake.query(`select ';' as s; create temp table u as select 1 as x; ${dynamic}`)).rejects.toThrow(/expected one SQL statement, got 4/);
  });

  it('`duckhouse sql` runs it too', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', dynamic, '--csv', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('x,y\n1,2\n');
  }, 60_000);
});

describe('lake.query: a PRAGMA that changes the session is not read-only', () => {
  it('refuses PRAGMA enable_profiling / disable_optimizer (they changed the query connection for every later query and export); PRAGMAs that return rows still run', async () => {
    const lake = await tempLake();
    for (const pragma of ['PRAGMA enable_profiling', 'PRAGMA disable_optimizer', 'pragma enable_progress_bar', 'PRAGMA force_checkpoint']) {
      await expect(lake.query(pragma), pragma).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY', message: expect.stringMatching(/read-only: PRAGMA statements/) });
    }
    expect((await lake.query('PRAGMA version')).length).toBe(1);
    expect(await lake.query('PRAGMA show_tables')).toEqual([]);
  });
});

describe('lake.query: a table function that changes the session is not read-only', () => {
  it('refuses CALL enable_logging() / enable_profiling() and the like, also in a FROM, a subquery or query(\'…\'), and leaves the session as it was', async () => {
    const lake = await tempLake();
    for (const sql of [
      'CALL enable_logging()',
      "call /* c */ ENABLE_LOGGING(level = 'debug')",
      'CALL disable_logging()',
      'CALL enable_profiling()',
      'CALL disable_profiling()',
      'CALL truncate_duckdb_logs()',
      'CALL enable_peg_parser()',
      'CALL force_checkpoint()',
      'CALL checkpoint()',
      'select * from enable_logging()',
      'select * from system.main."enable_logging" ()',
      'select 1 where 1 in (select 1 from enable_logging())',
      "select * from query('select * from enable_logging()')",
      'PIVOT (select 1 as k, 2 as v from enable_logging()) ON k USING sum(v)',
    ]) {
      await expect(lake.query(sql), sql).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY', message: expect.stringMatching(/read-only: .*\(\) changes the session/) });
    }
    expect(await lake.query(`select current_setting('enable_logging') as logging, current_setting('enable_profiling') as profiling`)).toEqual([{ logging: 0, profiling: null }]);
    // Read-only table functions still run, and so do columns or text merely named so.
    expect(await lake.query(`select count(*) as n from range(3)`)).toEqual([{ n: 3 }]);
    expect(await lake.query(`select 'checkpoint' as checkpoint`)).toEqual([{ checkpoint: 'checkpoint' }]);
  });
});

describe('lake.query: a session function named in text is not a call', () => {
  it("runs a statement whose literal, quoted name or comment holds `checkpoint(` or `setseed(`; refuses one inside query('…') / query_table('…'), whose text DuckDB runs", async () => {
    const lake = await tempLake();
    // Each was refused as a call of checkpoint() or setseed().
    expect(await lake.query(`select 'checkpoint(' as s`)).toEqual([{ s: 'checkpoint(' }]);
    expect(await lake.query(`select $$setseed(0.5)$$ as s, E'enable_logging(\\n)' as e`)).toEqual([{ s: 'setseed(0.5)', e: 'enable_logging(\n)' }]);
    expect(await lake.query(`select 1 as "checkpoint(" -- setseed(1)`)).toEqual([{ 'checkpoint(': 1 }]);
    expect(await lake.query(`/* enable_profiling() */ select count(*) as n from range(2) where 'x' <> 'checkpoint()'`)).toEqual([{ n: 2 }]);
    for (const sql of [
      "select * from query('select ''a'' as s, * from enable_logging()')",
      "select * from query($$select setseed(0.5) as s$$)",
      "select * from query(concat('select * from ', 'enable_profiling()'))",
      "select 1 from checkpoint /* c */ ()",
      "select 1 as x, checkpoint(",
    ]) {
      await expect(lake.query(sql), sql).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY' });
    }
  });
});

describe('lake.query: setseed() and the CHECKPOINT statement', () => {
  it('are refused as not read-only: setseed() seeded random() of every later query on the shared session; CHECKPOINT ran as PRAGMA force_checkpoint would', async () => {
    const lake = await tempLake();
    for (const sql of ['select setseed(0.5) as s', 'select 1 from range(1) where setseed (0.5) is null', 'CHECKPOINT', 'force checkpoint', '/* c */ checkpoint analytics']) {
      await expect(lake.query(sql), sql).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY', message: expect.stringMatching(/^lake\.query is read-only: /) });
    }
    const draws = async (): Promise<number[]> => (await lake.query<{ r: number }>('select random() as r from range(3)')).map((x) => x.r);
    expect(await draws()).not.toEqual(await draws());
  });
});

describe('lake.query: BIT values', () => {
  it("come back as DuckDB's text for the bits ('0101'), as queryArrow gives them, not as node-api's internal bytes", async () => {
    const lake = await tempLake();
    const Q = `select '0101'::BIT as b, ['11'::BIT, NULL] as bs`;
    // Was { b: <Buffer 04 f5>, … }: a padding byte and the bits padded with ones.
    expect(await lake.query(Q)).toEqual([{ b: '0101', bs: ['11', null] }]);
    expect(rowsOf(await lake.queryArrow(Q)).map((r) => plain(r))).toEqual([{ b: '0101', bs: ['11', null] }]);
  });
});

describe('lake.query: a STRUCT field named __proto__', () => {
  // node-api builds a struct's fields by assignment: `entries.__proto__ = value` sets the prototype
  // (a number or string is dropped), so such a field cannot come back as a field of an object.
  it('is a ConfigError naming the column and the field (was a silently missing field, or a TypeError "reading \'typeId\'")', async () => {
    const lake = await tempLake();
    for (const [sql, column] of [
      [`select 1 as id, {'__proto__': 1, 'a': 2} as s`, 's'],
      [`select [{'__proto__': {'x': 1}}] as l`, 'l'],
      [`select map {'k': {'b': {'__proto__': 'v'}}} as m`, 'm'],
    ]) {
      for (const run of [() => lake.query(sql!), () => lake.queryArrow(sql!)]) {
        const error = (await run().catch((e: unknown) => e)) as Error;
        expect(error, sql).toBeInstanceOf(ConfigError);
        expect(error.message).toBe(`lake.query: column "${column}" holds a STRUCT field named "__proto__", which a JS object cannot hold as a field: rename the field in the SQL`);
      }
    }
    // Other Object.prototype names are plain fields.
    expect(await lake.query(`select {'constructor': 2, 'toString': 3} as s`)).toEqual([{ s: { constructor: 2, toString: 3 } }]);
  });
});

describe('lake.query: TIME_NS', () => {
  it("a TIME_NS comes back as its text ('HH:MM:SS.fffffffff'), as a TIME does and queryArrow gives it, not as a bigint of nanoseconds", async () => {
    const lake = await tempLake();
    const Q = `select '12:00:00.123456789'::TIME_NS as t, ['00:00:01'::TIME_NS] as ts`;
    // Was { t: 43200123456789n, ts: [1000000000n] }.
    expect(await lake.query(Q)).toEqual([{ t: '12:00:00.123456789', ts: ['00:00:01'] }]);
    expect(rowsOf(await lake.queryArrow(Q)).map((r) => plain(r))).toEqual([{ t: '12:00:00.123456789', ts: ['00:00:01'] }]);
  });
});

describe('lake.query: INTERVAL', () => {
  it("comes back as { months, days, micros } with micros a number within ±2^53 as BIGINT is (was always a bigint: JSON.stringify of the rows threw)", async () => {
    const lake = await tempLake();
    const rows = await lake.query(`select interval 90 minutes as i, [interval 1 day] as l, to_microseconds(9223372036854775807) as huge`);
    expect(rows).toEqual([{ i: { months: 0, days: 0, micros: 5_400_000_000 }, l: [{ months: 0, days: 1, micros: 0 }], huge: { months: 0, days: 0, micros: 9223372036854775807n } }]);
    expect(JSON.parse(JSON.stringify(rows.slice(0, 1).map(({ i, l }) => ({ i, l }))))).toEqual([{ i: { months: 0, days: 0, micros: 5_400_000_000 }, l: [{ months: 0, days: 1, micros: 0 }] }]);
  });
});

describe('lake.query: a statement DuckDB refuses or fails is a QueryError (QUERY_FAILED)', () => {
  it('a typo, a missing table and a failed cast: DuckDB\'s message whole, the original as cause, not retryable', async () => {
    const lake = await tempLake();
    const cases: [string, RegExp][] = [
      ['selec 1', /^Failed to extract statements: Parser Error: syntax error at or near "selec"/],
      ['select * from nope', /^Catalog Error: Table with name nope does not exist!/],
      [`select 'a'::int`, /^Conversion Error: Could not convert string 'a' to INT32/],
    ];
    for (const [sql, text] of cases) {
      for (const call of [() => lake.query(sql), () => lake.queryArrow(sql)]) {
        const error = await call().then(() => undefined, (e: unknown) => e);
        expect(error, sql).toBeInstanceOf(QueryError);
        expect(error, sql).toBeInstanceOf(DuckhouseError);
        expect(error, sql).toMatchObject({ name: 'QueryError', code: 'QUERY_FAILED', retryable: false, message: expect.stringMatching(text) });
        const cause = (error as Error).cause;
        expect(cause).toBeInstanceOf(Error);
        expect((cause as Error).message).toBe((error as Error).message);
      }
    }
    // Refusals keep their own codes, and the connection still serves the next query.
    await expect(lake.query('CREATE TABLE t (a INT)')).rejects.toMatchObject({ code: 'QUERY_NOT_READ_ONLY' });
    await expect(lake.query('SELECT 1; SELECT 2')).rejects.toBeInstanceOf(ConfigError);
    expect(await lake.query('select 42 as x')).toEqual([{ x: 42 }]);
  });

  it('SQL of nothing but comments and semicolons is a ConfigError saying so (was QUERY_FAILED "Error in native callback")', async () => {
    const lake = await tempLake();
    for (const sql of ['-- nothing to run', '/* only this */', ';', ' ; -- x\n;']) {
      const error = (await lake.query(sql).catch((e: unknown) => e)) as Error;
      expect(error, sql).toBeInstanceOf(ConfigError);
      expect(error.message, sql).toBe('lake.query: "sql" holds no statement, only blanks, comments or semicolons');
    }
    await expect(lake.queryArrow('-- nothing')).rejects.toThrow('lake.query: "sql" holds no statement');
    expect(await lake.query('-- the answer\nselect 42 as x; -- done')).toEqual([{ x: 42 }]);
  });

  it('lake.bronze: a dataset bronze does not have is a ConfigError naming it and those it has, as for prune (a misspelt name read as no rows)', async () => {
    const lake = await tempLake();
    await expect(lake.bronze('syn/items')).rejects.toThrow('lake.bronze: no bronze dataset "syn/items"; bronze has: nothing yet');
    await lake.extract([syntheticItems({ source: 'syn', batches: 1, rowsPerBatch: 6 })]);
    expect(await lake.bronze('syn/items')).toHaveLength(6);
    const error = (await lake.bronze('syn/itemz').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('lake.bronze: no bronze dataset "syn/itemz"; bronze has: syn/items');
    await expect(lake.bronze('sin/items', { asOfRun: '20260101T000000000Z-abcdef' })).rejects.toThrow('lake.bronze: no bronze dataset "sin/items"; bronze has: syn/items');
  });

  it('lake.bronze: a committed file DuckDB cannot read fails as QUERY_FAILED naming DuckDB\'s reason', async () => {
    const lake = await tempLake();
    await lake.extract([syntheticItems({ source: 'syn', batches: 1, rowsPerBatch: 6 })]);
    const dir = path.join(lake.paths.bronze, 'syn', 'items');
    const files = listTree(dir).filter((f) => f.endsWith('.parquet'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) fs.writeFileSync(path.join(dir, f), 'not a parquet file');
    await expect(lake.bronze('syn/items')).rejects.toMatchObject({ name: 'QueryError', code: 'QUERY_FAILED', retryable: false, message: expect.stringMatching(/parquet/i) });
  });
});
