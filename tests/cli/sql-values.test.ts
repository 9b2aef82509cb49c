/**
 * `duckhouse sql … --csv|--json` and its table output for values JSON has no plain form for:
 * BLOBs, NaN and ±Infinity.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

function sql(query: string, format: string[]): { code: number | null; out: string; err: string } {
  const dir = tempDir('duckhouse-cli-');
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
