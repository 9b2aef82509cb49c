import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempProject } from '../helpers/temp-lake.js';
import { parseTypeString } from '../../src/db/type-string.js';

const SQL = `select TIMESTAMP '2026-01-10 10:00:00' as created_sp, TIMESTAMPTZ '2026-01-10 13:00:00+00' as created_at, DATE '2026-01-10' as created_date`;

describe('duckhouse sql: naive TIMESTAMP values (the *_sp columns) are not printed as UTC instants', () => {
  it('--csv prints a São Paulo wall-clock TIMESTAMP without a Z, as `export --format csv` does', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', SQL, '--csv', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    const [header, line] = r.out.trim().split('\n');
    expect(header).toBe('created_sp,created_at,created_date');
    const [sp, at, date] = line!.split(',');
    // 10:00 on the São Paulo wall clock is not 10:00 UTC: no zone designator on a TIMESTAMP.
    expect(sp).toMatch(/^2026-01-10[ T]10:00:00(\.0+)?$/);
    expect(Date.parse(at!)).toBe(Date.UTC(2026, 0, 10, 13));
    expect(date).toBe('2026-01-10');
  }, 60_000);

  it('the table output does the same', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', SQL, '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/2026-01-10 10:00:00 +│ 2026-01-10T13:00:00\.000Z │ 2026-01-10/);
  }, 60_000);

  it('--json does the same', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', SQL, '--json', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    const [row] = JSON.parse(r.out) as Record<string, string>[];
    expect(row!.created_sp).toMatch(/^2026-01-10[ T]10:00:00(\.0+)?$/);
    expect(Date.parse(row!.created_at!)).toBe(Date.UTC(2026, 0, 10, 13));
    expect(row!.created_date).toBe('2026-01-10');
  }, 60_000);
});

describe('duckhouse sql: a naive TIMESTAMP nested in a list, struct, map or union is its wall clock too', () => {
  // A model collecting them (`list(created_sp)`, `{'at': created_sp}`) printed them as UTC instants with a Z.
  const NESTED = `select [TIMESTAMP '2026-01-10 10:00:00'] as sp_list, {'at': TIMESTAMP '2026-01-10 10:00:00', 'tz': TIMESTAMPTZ '2026-01-10 13:00:00+00'} as sp_struct,
    map {'k': [TIMESTAMP_MS '2026-01-10 10:00:00.250']} as sp_map, union_value(t := TIMESTAMP '2026-01-10 10:00:00') as sp_union`;

  it('--json', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', NESTED, '--json', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      {
        sp_list: ['2026-01-10 10:00:00'],
        sp_struct: { at: '2026-01-10 10:00:00', tz: '2026-01-10T13:00:00.000Z' },
        sp_map: [{ key: 'k', value: ['2026-01-10 10:00:00.250'] }],
        sp_union: { tag: 't', value: '2026-01-10 10:00:00' },
      },
    ]);
  }, 60_000);

  it('--csv and the table', () => {
    for (const format of [['--csv'], []]) {
      const dir = tempProject('duckhouse-cli-');
      const r = runCli(dir, ['sql', `select [TIMESTAMP '2026-01-10 10:00:00'] as sp_list, {'at': TIMESTAMP '2026-01-10 10:00:00'} as sp_struct`, ...format, '--root', path.join(dir, 'data')]);
      expect(r.code, r.err).toBe(0);
      expect(r.out, format.join(' ') || 'table').toContain('"2026-01-10 10:00:00"');
      expect(r.out, format.join(' ') || 'table').not.toMatch(/2026-01-10T10:00:00(\.000)?Z/);
    }
  }, 60_000);

  it('DuckDB type text parses into its nesting', () => {
    expect(parseTypeString('STRUCT("at" TIMESTAMP, "we ""ird""" TIMESTAMP WITH TIME ZONE[])[]')).toEqual({
      kind: 'list',
      item: { kind: 'struct', fields: [['at', { kind: 'scalar', name: 'TIMESTAMP' }], ['we "ird"', { kind: 'list', item: { kind: 'scalar', name: 'TIMESTAMP WITH TIME ZONE' } }]] },
    });
    expect(parseTypeString("MAP(ENUM('a', 'b,)'), DECIMAL(5,2)[3])")).toEqual({ kind: 'map', key: { kind: 'scalar', name: 'ENUM' }, value: { kind: 'list', item: { kind: 'scalar', name: 'DECIMAL' } } });
    expect(parseTypeString('UNION(t TIMESTAMP_NS, n INTEGER)')).toEqual({ kind: 'union', fields: [['t', { kind: 'scalar', name: 'TIMESTAMP_NS' }], ['n', { kind: 'scalar', name: 'INTEGER' }]] });
    expect(() => parseTypeString('STRUCT(a INTEGER')).toThrow();
  });
});

describe('duckhouse sql (interactive): naive TIMESTAMPs as their wall clock, as with a query argument', () => {
  it('prints a *_sp TIMESTAMP as 2026-01-10 10:00:00, not as the UTC instant 2026-01-10T10:00:00.000Z', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = runCli(dir, ['sql', '--root', path.join(dir, 'data')], `${SQL};\n.quit\n`);
    expect(r.code, r.err).toBe(0);
    // The prompt printed "2026-01-10T10:00:00.000Z │ 2026-01-10T13:00:00.000Z".
    expect(r.out).toMatch(/2026-01-10 10:00:00 +│ 2026-01-10T13:00:00\.000Z │ 2026-01-10/);
  }, 60_000);
});
