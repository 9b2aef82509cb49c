import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { spawnHelper } from '../helpers/child.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const nodeApi = createRequire(import.meta.url).resolve('@duckdb/node-api');

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

describe('another DuckDB process holding the metrics file past the lock timeout during an extract', () => {
  it('the extract rejects with the LockError only once its other sources have stopped, and records the run failed', async () => {
    const lake = await tempLake({ lockTimeoutMillis: 300 });
    const file = lake.paths.metrics;
    let holderExited: Promise<unknown> | undefined;
    const fast = defineSource({
      source: 'fast',
      dataset: 'items',
      schema: z.object({ id: z.number() }),
      extract: async function* () {
        yield [{ id: 1 }];
        // A user's `duckdb data/metrics/runs.duckdb` holds the file while this source records its result.
        const holder = spawn(process.execPath, [
          '-e',
          `const { DuckDBInstance } = require(${JSON.stringify(nodeApi)});
           (async () => { const db = await DuckDBInstance.create(${JSON.stringify(file)}); const c = await db.connect();
             console.log('locked'); await new Promise((r) => setTimeout(r, 1500)); c.closeSync(); db.closeSync(); })();`,
        ]);
        holderExited = new Promise((r) => holder.on('exit', r));
        await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
      },
    });
    let slowDone = false;
    const slow = defineSource({
      source: 'slow',
      dataset: 'items',
      schema: z.object({ id: z.number() }),
      extract: async function* () {
        for (let i = 0; i < 6; i++) {
          await new Promise((r) => setTimeout(r, 500));
          yield [{ id: i }];
        }
        slowDone = true;
      },
    });
    await expect(lake.extract([fast, slow])).rejects.toThrow(/runs\.duckdb is locked by another process/);
    // The caller has its answer: nothing of that run is still writing to the lake.
    expect(slowDone).toBe(true);
    await holderExited;
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: 'extract', status: 'failed', error: expect.stringMatching(/runs\.duckdb is locked by another process/) });
  }, 30_000);
});
