import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

const SQL = `select TIMESTAMP '2026-01-10 10:00:00' as created_sp, TIMESTAMPTZ '2026-01-10 13:00:00+00' as created_at, DATE '2026-01-10' as created_date`;

describe('duckhouse sql: naive TIMESTAMP values (the *_sp columns) are not printed as UTC instants', () => {
  it('--csv prints a São Paulo wall-clock TIMESTAMP without a Z, as `export --format csv` does', () => {
    const dir = tempDir('duckhouse-cli-');
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
    const dir = tempDir('duckhouse-cli-');
    const r = runCli(dir, ['sql', SQL, '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/2026-01-10 10:00:00 +│ 2026-01-10T13:00:00\.000Z │ 2026-01-10/);
  }, 60_000);

  it('--json does the same', () => {
    const dir = tempDir('duckhouse-cli-');
    const r = runCli(dir, ['sql', SQL, '--json', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    const [row] = JSON.parse(r.out) as Record<string, string>[];
    expect(row!.created_sp).toMatch(/^2026-01-10[ T]10:00:00(\.0+)?$/);
    expect(Date.parse(row!.created_at!)).toBe(Date.UTC(2026, 0, 10, 13));
    expect(row!.created_date).toBe('2026-01-10');
  }, 60_000);
});
