import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';

// 20:00 UTC on 1 January is already 2 January in Tokyo and still 1 January in New York: a model
// casting an instant to a date must give the lake's day, whatever zone the machine is in.
const files = {
  'trusted/days.sql': `{{ config(materialized='table') }}
select TIMESTAMPTZ '2026-01-01 20:00:00+00'::DATE as d,
       strftime(TIMESTAMPTZ '2026-01-01 20:00:00+00', '%H') as h,
       current_setting('TimeZone') as tz`,
  'trusted/days_view.sql': `select TIMESTAMPTZ '2026-01-01 20:00:00+00'::DATE as d`,
};

async function built(timezone: string) {
  const { lake } = await projectLake(files, { timezone });
  const build = await lake.build();
  expect(build.status).toBe('success');
  return lake;
}

describe('the lake timezone is the DuckDB session zone', () => {
  it('in built tables, views read through lake.query, plain queries and CSV exports', async () => {
    const tokyo = await built('Asia/Tokyo');
    const newYork = await built('America/New_York');

    const t = await tokyo.query('select strftime(d, \'%Y-%m-%d\') d, h, tz from trusted.days');
    const n = await newYork.query('select strftime(d, \'%Y-%m-%d\') d, h, tz from trusted.days');
    expect(t).toEqual([{ d: '2026-01-02', h: '05', tz: 'Asia/Tokyo' }]);
    expect(n).toEqual([{ d: '2026-01-01', h: '15', tz: 'America/New_York' }]);

    expect(await tokyo.query("select strftime(d, '%Y-%m-%d') d from trusted.days_view")).toEqual([{ d: '2026-01-02' }]);
    expect(await newYork.query("select strftime(d, '%Y-%m-%d') d from trusted.days_view")).toEqual([{ d: '2026-01-01' }]);
    expect(await tokyo.query("select current_setting('TimeZone') tz")).toEqual([{ tz: 'Asia/Tokyo' }]);

    const out = await tokyo.exportTable('trusted.days', { format: 'csv' });
    expect(fs.readFileSync(out.path, 'utf8').trim().split('\n')[1]).toBe('2026-01-02,05,Asia/Tokyo');
  });
});
