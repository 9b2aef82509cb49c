/**
 * `lake.report()` numbers against the metrics database they come from.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempLake } from '../helpers/temp-lake.js';

describe('report numbers', () => {
  it('the "open alerts" headline counts every open alert, not the 200 the table shows', async () => {
    const lake = await tempLake();
    await lake.metrics.transaction(async (c) => {
      for (let i = 0; i < 250; i++) {
        await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at) VALUES ($1, 'freshness', 'warn', $2, 'no successful extract for 30 h', now())`, [`a${i}`, `src${i}/data`]);
      }
    });
    const open = (await lake.metrics.select(`SELECT count(*)::INTEGER AS n FROM alerts WHERE resolved_at IS NULL`))[0]!.n;
    expect(open).toBe(250);
    const out = await lake.report();
    const html = fs.readFileSync(out.path, 'utf8');
    const kpi = /<div class="label">open alerts<\/div><div class="value">(?:<span[^>]*>)?([^<]*)/.exec(html)![1];
    // Observed: "200" (the section's query has LIMIT 200 and the headline counts its rows).
    expect(kpi).toBe('250');
  }, 60_000);
});
