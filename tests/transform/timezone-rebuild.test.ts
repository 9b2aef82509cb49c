/**
 * DESIGN: "Nothing rebuilt without cause (`up-to-date` when SQL and inputs are unchanged)";
 * `Lakehouse.open({ timezone })` (README): the lake's zone is "DuckDB's session `TimeZone` in
 * builds, `lake.query` and exports, so `ts::DATE` or `strftime(ts, …)` in a model gives the lake's
 * day on any machine". A table model's rows depend on the zone: after the zone changes, the build
 * rebuilds it (it used to call it `up-to-date` and keep the old zone's days, while a view over the
 * same expression, evaluated by the reader, already showed the new zone's day).
 */
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { modelsProject } from '../helpers/models.js';

const instant = `TIMESTAMPTZ '2026-01-10 01:00:00+00'`;

describe('a change of the lake timezone', () => {
  it('rebuilds the table models whose rows it changes (not up-to-date with the old zone\'s days)', async () => {
    const p = modelsProject({
      'marts/t.sql': `{{ config(materialized='table') }} select (${instant})::DATE::VARCHAR as d`,
      'staging/v.sql': `select (${instant})::DATE::VARCHAR as d`,
    });
    const sp = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    try {
      expect((await sp.build()).status).toBe('success');
      expect(await sp.query('select d from marts.t')).toEqual([{ d: '2026-01-09' }]); // 22:00 in São Paulo
    } finally {
      await sp.close();
    }

    const utc = await Lakehouse.open({ root: p.root, models: p.models, timezone: 'UTC', log: { console: false } });
    try {
      const build = await utc.build();
      expect(build.status).toBe('success');
      // The view already answers in the new zone...
      expect(await utc.query('select d from staging.v')).toEqual([{ d: '2026-01-10' }]);
      // ...the table must too: it was built in another zone, so it is not up to date.
      expect(build.models.find((m) => m.name === 'marts.t')?.status).toBe('success');
      expect(await utc.query('select d from marts.t')).toEqual([{ d: '2026-01-10' }]);
    } finally {
      await utc.close();
    }
  });
});
