import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

describe('lake.query and lake.queryArrow agree on timestamps before 1970', () => {
  // DuckDB stores microseconds; a JS Date holds milliseconds. An instant before 1970 has negative
  // epoch micros: dividing them by 1000 with BigInt `/` rounds toward zero, i.e. *later*.
  const sql = `select TIMESTAMP '1965-04-01 08:30:00.123456' as ts, TIMESTAMPTZ '1969-12-31 23:59:59.9995+00' as tz, [TIMESTAMP '1950-06-15 10:00:00.000999'] as list`;

  it('lake.query returns the millisecond the instant lies in (not the next one)', async () => {
    const lake = await tempLake();
    const [row] = await lake.query<{ ts: Date; tz: Date; list: Date[] }>(sql);
    expect(row!.ts.toISOString()).toBe('1965-04-01T08:30:00.123Z');
    // 23:59:59.9995 on the last day of 1969 is not midnight of 1970.
    expect(row!.tz.toISOString()).toBe('1969-12-31T23:59:59.999Z');
    expect(row!.list.map((d) => d.toISOString())).toEqual(['1950-06-15T10:00:00.000Z']);
  });

  it('gives the same instants as queryArrow for the same query', async () => {
    const lake = await tempLake();
    const [row] = await lake.query<{ ts: Date; tz: Date }>(sql);
    const table = await lake.queryArrow(sql);
    expect(row!.ts.getTime()).toBe(Number(table.getChild('ts')!.get(0)));
    expect(row!.tz.getTime()).toBe(Number(table.getChild('tz')!.get(0)));
  });
});

describe('lake.query parameters', () => {
  it('binds a JS array as a list, as it binds a Date as a timestamp', async () => {
    const lake = await tempLake();
    const rows = await lake.query(`select s from (values ('a'), ('b'), ('c')) t(s) where list_contains($1, s) order by s`, [['a', 'c']]);
    expect(rows).toEqual([{ s: 'a' }, { s: 'c' }]);
    expect(await lake.query('select len($1) as n', [[1, 2, 3]])).toEqual([{ n: 3 }]);
  });

  it('an array of Dates binds as a list of timestamps; an empty array is a ConfigError naming the parameter', async () => {
    const lake = await tempLake();
    expect(await lake.query('select $1[2] as t', [[new Date('2026-01-01T00:00:00Z'), new Date('2026-02-01T00:00:00Z')]])).toEqual([{ t: new Date('2026-02-01T00:00:00Z') }]);
    await expect(lake.query('select len($1) as n', [[]])).rejects.toThrow(/parameter \$1 is an empty array/);
    await expect(lake.query('select len($xs) as n', { xs: [] })).rejects.toThrow(/parameter \$xs is an empty array/);
  });

  it('an Invalid Date is a ConfigError naming lake.query and the parameter, not a BigInt conversion failure', async () => {
    const lake = await tempLake();
    const positional = (await lake.query('select $1 as since', [new Date('not a date')]).catch((e: unknown) => e)) as Error;
    expect(positional).toBeInstanceOf(ConfigError);
    expect(positional.message).not.toMatch(/BigInt/);
    expect(positional.message).toBe('lake.query: parameter $1 is an Invalid Date');
    await expect(lake.query('select $since as since', { since: new Date(Number.NaN) })).rejects.toThrow(/lake\.query: parameter \$since is an Invalid Date/);
    await expect(lake.query('select $1 as t', [[new Date(0), new Date(Number.NaN)]])).rejects.toThrow(/parameter \$1\[1\] is an Invalid Date/);
  });

  it('a list is typed from all its items, not its first: a leading null keeps the items after it', async () => {
    const lake = await tempLake();
    // node-api's listValue typed [null, 'a'] as a list of NULLs: the 'a' was lost without an error.
    expect(await lake.query('select $1 as xs', [[null, 'a']])).toEqual([{ xs: [null, 'a'] }]);
    const rows = await lake.query(`select s from (values ('a'), ('b')) t(s) where list_contains($1, s) order by s`, [[null, 'a']]);
    expect(rows).toEqual([{ s: 'a' }]);
    expect(await lake.query('select $1 as ts', [[null, new Date('2026-01-01T00:00:00Z')]])).toEqual([{ ts: [null, new Date('2026-01-01T00:00:00Z')] }]);
    expect(await lake.query('select $1 as xs', [[[null], ['a', null]]])).toEqual([{ xs: [[null], ['a', null]] }]);
    expect(await lake.query('select $1 as xs', [[null, null]])).toEqual([{ xs: [null, null] }]);
  });

  it('a list of numbers is BIGINT[], or DOUBLE[] when one item is fractional or past ±2^63, whatever their order', async () => {
    const lake = await tempLake();
    // Was "number is not an integer" / "number out of int32 range" (typed INTEGER[] from the first item).
    expect(await lake.query('select $1 as xs, typeof($1) as t', [[1, 1.5]])).toEqual([{ xs: [1, 1.5], t: 'DOUBLE[]' }]);
    expect(await lake.query('select $1 as xs, typeof($1) as t', [[1, 2 ** 40]])).toEqual([{ xs: [1, 2 ** 40], t: 'BIGINT[]' }]);
    expect(await lake.query('select $1 as xs', [[1.5, 1]])).toEqual([{ xs: [1.5, 1] }]);
    expect(await lake.query('select $1 as xs, typeof($1) as t', [[1, 1e300]])).toEqual([{ xs: [1, 1e300], t: 'DOUBLE[]' }]);
  });

  it('a list mixing kinds of items is a ConfigError naming the item', async () => {
    const lake = await tempLake();
    const error = (await lake.query('select $1 as xs', [[1, null, 'a']]).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('lake.query: parameter $1[2] is a string but $1[0] is a number: the items of a list must be of one type');
    await expect(lake.query('select $xs as xs', { xs: [[1], [true]] })).rejects.toThrow(/parameter \$xs\[1\]\[0\] is a boolean but \$xs\[0\]\[0\] is a number/);
  });

  it('an integral number past the BIGINT range binds as a DOUBLE, not "bigint out of int64 range"', async () => {
    const lake = await tempLake();
    expect(await lake.query('select $1 > 1e299 as big', [1e300])).toEqual([{ big: true }]);
    expect(await lake.query('select $1::DOUBLE as x', [2 ** 64])).toEqual([{ x: 2 ** 64 }]);
    expect(await lake.query('select $1 as x, typeof($1) as t', [-(2 ** 63)])).toEqual([{ x: -(2n ** 63n), t: 'BIGINT' }]);
  });

  it('a Uint8Array (or Buffer) binds as a BLOB, as lake.query returns one; a list of them as BLOB[]', async () => {
    const lake = await tempLake();
    // Was "Cannot create values of type ANY. Specify a specific type.", naming neither the call nor the parameter.
    const bytes = new Uint8Array([0, 255, 10]);
    expect(await lake.query('select $1 as b, octet_length($1) as n, typeof($1) as t', [bytes])).toEqual([{ b: Buffer.from(bytes), n: 3, t: 'BLOB' }]);
    expect(await lake.query(`select $b = '\\x00\\xFF\\x0A'::BLOB as same`, { b: Buffer.from([0, 255, 10]) })).toEqual([{ same: true }]);
    expect(await lake.query('select $1 as bs', [[bytes, null]])).toEqual([{ bs: [Buffer.from(bytes), null] }]);
    const [row] = await lake.query<{ b: Uint8Array }>('select $1 as b', [bytes]);
    expect(await lake.query('select $1 = $2 as same', [row!.b, bytes])).toEqual([{ same: true }]);
  });

  it('a plain object, a function or a symbol is a ConfigError naming the parameter, not node-api\'s "Cannot create values of type ANY"', async () => {
    const lake = await tempLake();
    const error = (await lake.query('select $1 as a', [{ x: 1 }]).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^lake\.query: parameter \$1 is an object/);
    await expect(lake.query('select $p as a', { p: () => 1 })).rejects.toThrow(/^lake\.query: parameter \$p is a function/);
    await expect(lake.query('select $1 as a', [[Symbol('s')]])).rejects.toThrow(/^lake\.query: parameter \$1\[0\] is a symbol/);
  });

  it('a Map binds as a MAP, a Set as a LIST, an ArrayBuffer as a BLOB, a bigint past HUGEINT as a BIGNUM (was "Cannot create values of type ANY" / "bigint out of hugeint range")', async () => {
    const lake = await tempLake();
    const rows = await lake.query('select $1 as m, typeof($1) as mt, $2 as s, typeof($2) as st, $3 as b, typeof($3) as bt, $4 as h, typeof($4) as ht, $5 as hs, typeof($5) as hst', [
      new Map<string, number | null>([['a', 1], ['b', null], ['c', 2.5]]),
      new Set(['x', 'y']),
      new Uint8Array([1, 2, 3]).buffer,
      -(2n ** 130n),
      [1n, 2n ** 127n],
    ]);
    expect(rows).toEqual([{ m: [{ key: 'a', value: 1 }, { key: 'b', value: null }, { key: 'c', value: 2.5 }], mt: 'MAP(VARCHAR, DOUBLE)', s: ['x', 'y'], st: 'VARCHAR[]', b: Buffer.from([1, 2, 3]), bt: 'BLOB', h: -(2n ** 130n), ht: 'BIGNUM', hs: [1, 2n ** 127n], hst: 'BIGNUM[]' }]);
    // A subarray binds its own bytes, not its whole buffer's.
    expect(await lake.query('select $1 as b', [new Uint8Array([9, 1, 2, 9]).subarray(1, 3)])).toEqual([{ b: Buffer.from([1, 2]) }]);
    // NaN and ±Infinity bind as DOUBLEs.
    expect(await lake.query(`select isnan($1) as nan, $2 = 'inf'::DOUBLE as inf, typeof($1) as t`, [NaN, Infinity])).toEqual([{ nan: true, inf: true, t: 'DOUBLE' }]);
  });

  it('a bigint binds as a BIGINT within ±2^63, a HUGEINT only past it, exactly; queryArrow gives it as Int64 (was HUGEINT, decimal text in Arrow)', async () => {
    const lake = await tempLake();
    const max = 2n ** 63n - 1n;
    const rows = await lake.query('select $1 as a, typeof($1) as at, $2 as b, typeof($2) as bt, $3 as c, typeof($3) as ct, $4 as d, typeof($4) as dt, $5 as l, typeof($5) as lt, $6 as w, typeof($6) as wt', [
      1n,
      max,
      -(2n ** 63n),
      max + 1n,
      [1n, -(2n ** 63n)],
      [1n, max + 1n],
    ]);
    expect(rows).toEqual([{ a: 1, at: 'BIGINT', b: max, bt: 'BIGINT', c: -(2n ** 63n), ct: 'BIGINT', d: max + 1n, dt: 'HUGEINT', l: [1, -(2n ** 63n)], lt: 'BIGINT[]', w: [1, max + 1n], wt: 'HUGEINT[]' }]);
    const table = await lake.queryArrow('select $1 as x, $2 as y', [1n, max]);
    expect(table.schema.fields.map((f) => String(f.type))).toEqual(['Int64', 'Int64']);
    expect([table.getChild('x')!.get(0), table.getChild('y')!.get(0)]).toEqual([1n, max]);
  });

  it('a typed array other than Uint8Array, a DataView, an empty Map, a RegExp or another class instance is a ConfigError naming the parameter and its JS type', async () => {
    const lake = await tempLake();
    for (const [value, kind] of [
      [new Int16Array([1, 2]), 'an Int16Array'],
      [new DataView(new ArrayBuffer(2)), 'a DataView'],
      [new Map(), 'an empty Map'],
      [/x/, 'a RegExp'],
      [new URL('http://127.0.0.1/'), 'a URL'],
    ] as const) {
      const error = (await lake.query('select $1 as a', [value]).catch((e: unknown) => e)) as Error;
      expect(error, kind).toBeInstanceOf(ConfigError);
      expect(error.message, kind).toMatch(new RegExp(`^lake\\.query: parameter \\$1 is ${kind}`));
    }
    await expect(lake.query('select $p as a', { p: [new Map([[1, /x/]])] })).rejects.toThrow(/^lake\.query: parameter \$p\[0\]\.get\(1\) is a RegExp/);
  });

  it('params that are neither an array nor an object are a ConfigError naming "params" (null was a TypeError, a string bound as $0)', async () => {
    const lake = await tempLake();
    for (const [params, kind] of [[null, 'null'], ['x', 'a string'], [1, 'a number']] as const) {
      const error = (await lake.query('select $1 as a', params as never).catch((e: unknown) => e)) as Error;
      expect(error, kind).toBeInstanceOf(ConfigError);
      expect(error.message, kind).toBe(`lake.query: "params" must be an array ($1, $2…) or an object ($name), got ${kind}`);
    }
    await expect(lake.queryArrow('select $1 as a', null as never)).rejects.toThrow(/^lake\.queryArrow: "params" must be an array/);
  });

  it('more values than the statement has parameters is a ConfigError saying how many (was node-api\'s "Failed to bind value")', async () => {
    const lake = await tempLake();
    const error = (await lake.query('select $1 as a', [1, 2]).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('lake.query: 2 parameter values given, but the statement has 1 ($1)');
    await expect(lake.query('select 1 as a', [1])).rejects.toThrow('lake.query: 1 parameter value given, but the statement has no parameters');
    expect(await lake.query('select $1 as a', [1])).toEqual([{ a: 1 }]);
  });

  it('a hole in an array binds as NULL, as an undefined item does (a sparse list was a TypeError naming nothing, a sparse params array left its $n unbound)', async () => {
    const lake = await tempLake();
    expect(await lake.query('select $1 as xs', [[, 1]])).toEqual([{ xs: [null, 1] }]);
    expect(await lake.query('select $1 as xs', [new Array<string>(2)])).toEqual([{ xs: [null, null] }]);
    expect(await lake.query('select $1 as a, $2 as b', [, 'x'])).toEqual([{ a: null, b: 'x' }]);
  });

  it('a named parameter the statement does not have is a ConfigError naming it', async () => {
    const lake = await tempLake();
    const error = (await lake.query('select $a as x', { a: 1, b: 2 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    // Was "Failed to retrieve bind parameter index", naming neither the parameter nor lake.query.
    expect(error.message).toBe('lake.query: unknown parameter $b (the statement has $a)');
    await expect(lake.query('select 1 as x', { a: 1 })).rejects.toThrow('lake.query: unknown parameter $a (the statement has no parameters)');
    await expect(lake.query('select $a as x, $b as y', { a: 1 })).rejects.toThrow(/parameters: b/);
  });
});
