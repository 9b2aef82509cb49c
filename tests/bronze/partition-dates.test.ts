/**
 * Partitioning by a date-time field: the field moves to the path, so its value must survive the
 * trip, and a date drawn from an instant is the lake's calendar date (as `day=` is).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), captured_at: z.coerce.date() });
const records = [
  { id: 1, captured_at: '2026-01-01T22:30:00-03:00' }, // 2026-01-02 01:30 UTC
  { id: 2, captured_at: '2026-01-01T08:00:00-03:00' },
];

describe('partitionBy a z.date() field', () => {
  it('keeps the instant of each record (not just a date): refused at definition, or stored whole', async () => {
    let source;
    try {
      source = defineSource({ source: 'q', dataset: 'captures', schema, partitionBy: ['captured_at'], extract: () => [records] });
    } catch (error) {
      // Refusing it, naming the field, is a fix too.
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('captured_at');
      return;
    }
    const lake = await tempLake();
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    const rows = await lake.bronze('q/captures');
    const toMs = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
    const byId = new Map(rows.map((r) => [Number(r.id), toMs(r.captured_at)]));
    // 22:30 São Paulo time is not "2026-01-02", and 08:00 is not midnight.
    expect(byId.get(1)).toBe(Date.parse(records[0]!.captured_at));
    expect(byId.get(2)).toBe(Date.parse(records[1]!.captured_at));
  });

  it('a partition function returning a Date names the calendar date in the lake time zone, like day=', async () => {
    const lake = await tempLake({ timezone: 'America/Sao_Paulo' });
    const source = defineSource({
      source: 'q',
      dataset: 'by_day',
      schema,
      partitionBy: { captured_day: (r) => r.captured_at },
      extract: () => [records],
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    const rows = await lake.query<{ id: number; captured_day: string }>(
      `SELECT id, captured_day FROM read_parquet('${lake.paths.bronze}/q/by_day/**/*.parquet', hive_partitioning = true, hive_types = {'captured_day': VARCHAR}) ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, captured_day: '2026-01-01' },
      { id: 2, captured_day: '2026-01-01' },
    ]);
  });
});
