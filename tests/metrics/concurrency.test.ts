import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { spawnHelper } from '../helpers/child.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('two processes extracting at once', () => {
  it('both finish and record complete runs in one metrics db', async () => {
    const root = path.join(tempDir(), 'data');
    const a = spawnHelper('child-extract.ts', [root, 'shared', '30', '300', '5']);
    const b = spawnHelper('child-extract.ts', [root, 'shared', '30', '300', '5']);
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea.code, ea.stderr).toBe(0);
    expect(eb.code, eb.stderr).toBe(0);
    const results = [a, b].map((c) => JSON.parse(c.lines.find((l) => l.startsWith('{"result"'))!).result);
    for (const r of results) expect(r).toMatchObject({ status: 'success', sources: [{ rows: 9000, rejected: 0 }] });

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const runs = await lake.runs();
      expect(runs.map((r) => r.runId).sort()).toEqual(results.map((r) => r.runId).sort());
      for (const run of runs) expect(run).toMatchObject({ status: 'success', rows: 9000 });
      const perRun = await lake.metrics.select('SELECT run_id, count(*) AS batches, sum(rows) AS rows FROM source_batches GROUP BY run_id');
      expect(perRun.map((r) => [r.batches, r.rows])).toEqual([
        [30, 9000],
        [30, 9000],
      ]);
      const [bronze] = await lake.query(`SELECT count(*) AS n, count(DISTINCT (_run_id, id)) AS d FROM read_parquet('${root}/bronze/shared/items/**/*.parquet')`);
      expect(bronze).toEqual({ n: 18000, d: 18000 });
    } finally {
      await lake.close();
    }
  }, 120_000);
});
