/**
 * `duckhouse sql … --csv|--json` and its table output for values JSON has no plain form for:
 * BLOBs, NaN and ±Infinity.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempProject } from '../helpers/temp-lake.js';

function sql(query: string, format: string[]): { code: number | null; out: string; err: string } {
  const dir = tempProject('duckhouse-cli-');
  return runCli(dir, ['sql', query, ...format, '--root', path.join(dir, 'data')]);
}

describe('duckhouse sql: BLOB values', () => {
  it("print as DuckDB's text for the bytes (as `export --format csv` writes them), not as Node's Buffer JSON", () => {
    const Q = `select '\\xAA\\x00\\x01'::BLOB as b, ['a\\x5C\\x22\\x27 z'::BLOB] as bs`;
    const csv = sql(Q, ['--csv']);
    expect(csv.code, csv.err).toBe(0);
    // Was b\n"{""type"":""Buffer"",""data"":[170,0,1]}"
    expect(csv.out).toBe('b,bs\n\\xAA\\x00\\x01,"[""a\\\\x5C\\\\x22\\\\x27 z""]"\n');
    const table = sql(Q, []);
    expect(table.out).not.toContain('"type":"Buffer"');
    expect(table.out).toContain('\\xAA\\x00\\x01');
    const json = sql(Q, ['--json']);
    expect(JSON.parse(json.out)).toEqual([{ b: '\\xAA\\x00\\x01', bs: ['a\\x5C\\x22\\x27 z'] }]);
  }, 60_000);
});

describe('duckhouse sql --json: NaN and Infinity are not NULL', () => {
  it('a DOUBLE NaN / ±Infinity prints as "NaN" / "Infinity" / "-Infinity", a NULL as null', () => {
    const r = sql(`select 'nan'::DOUBLE as nan, 'inf'::DOUBLE as inf, '-inf'::DOUBLE as ninf, NULL::DOUBLE as n, ['nan'::FLOAT, 1.5] as xs`, ['--json']);
    expect(r.code, r.err).toBe(0);
    // Was {"nan":null,"inf":null,"ninf":null,"n":null,…}: JSON.stringify turns them into null.
    expect(JSON.parse(r.out)).toEqual([{ nan: 'NaN', inf: 'Infinity', ninf: '-Infinity', n: null, xs: ['NaN', 1.5] }]);
  }, 60_000);
});

describe('duckhouse sql: INTERVAL, MAP and DECIMAL print as DuckDB writes them (as `export --format csv` does), not as JSON', () => {
  const Q = `select INTERVAL '1 year 2 months 3 days 04:05:06.789' as i, map {'a': 1, 'b': NULL} as m, map {'k': ['x', 'y']} as ml, 1.50::DECIMAL(10,2) as d, [INTERVAL '1 day'] as il, 'plain' as s order by 1`;

  it('in the table', () => {
    const r = sql(Q, []);
    expect(r.code, r.err).toBe(0);
    // Was {"months":14,"days":3,"micros":14706789000} │ [{"key":"a","value":1},{"key":"b","value":null}] │ … │ 1.5
    const [header, , line] = r.out.split('\n');
    expect(header!.split('│').map((c) => c.trim())).toEqual(['i', 'm', 'ml', 'd', 'il', 's']);
    expect(line!.split('│').map((c) => c.trim())).toEqual(['1 year 2 months 3 days 04:05:06.789', '{a=1, b=NULL}', '{k=[x, y]}', '1.50', '[1 day]', 'plain']);
  }, 60_000);

  it('in --csv; --json keeps its values', () => {
    const csv = sql(Q, ['--csv']);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.out).toBe('i,m,ml,d,il,s\n1 year 2 months 3 days 04:05:06.789,"{a=1, b=NULL}","{k=[x, y]}",1.50,[1 day],plain\n');
    const json = sql(Q, ['--json']);
    expect(JSON.parse(json.out)).toEqual([{ i: { months: 14, days: 3, micros: 14706789000 }, m: [{ key: 'a', value: 1 }, { key: 'b', value: null }], ml: [{ key: 'k', value: ['x', 'y'] }], d: 1.5, il: [{ months: 0, days: 1, micros: 0 }], s: 'plain' }]);
  }, 60_000);

  it('also for a query ending in a -- comment', () => {
    const r = sql('select 1.50::DECIMAL(4,2) as d -- a note', ['--csv']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('d\n1.50\n');
  }, 60_000);
});
