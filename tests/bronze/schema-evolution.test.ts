import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

describe('schema evolution across runs', () => {
  it('reads a later run with new fields together with earlier ones (union_by_name)', async () => {
    const lake = await tempLake();
    const v1 = defineSource({ source: 'evo', dataset: 'items', schema: z.object({ id: z.number().int(), name: z.string() }), extract: () => [[{ id: 1, name: 'a' }]] });
    const v2 = defineSource({
      source: 'evo',
      dataset: 'items',
      schema: z.object({ id: z.number().int(), name: z.string(), brand: z.string(), tags: z.array(z.string()) }),
      extract: () => [[{ id: 2, name: 'b', brand: 'acme', tags: ['x'] }]],
    });
    const r1 = await lake.extract([v1]);
    const r2 = await lake.extract([v2]);
    const rows = await lake.query(
      `SELECT id, name, brand, tags, _run_id FROM read_parquet('${lake.paths.bronze}/evo/items/**/*.parquet', union_by_name = true, hive_partitioning = true) ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, name: 'a', brand: null, tags: null, _run_id: r1.runId },
      { id: 2, name: 'b', brand: 'acme', tags: ['x'], _run_id: r2.runId },
    ]);
  });

  it('flushes by row count: many batches, flat buffer, every row once', async () => {
    const lake = await tempLake({ limits: { flushRows: 1000 } });
    const source = defineSource({
      source: 'evo',
      dataset: 'many',
      schema: z.object({ id: z.number().int() }),
      async *extract() {
        for (let b = 0; b < 10; b++) yield Array.from({ length: 550 }, (_, i) => ({ id: b * 550 + i }));
      },
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ rows: 5500, files: 5 });
    const [stats] = await lake.query(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM read_parquet('${lake.paths.bronze}/evo/many/**/*.parquet')`);
    expect(stats).toEqual({ n: 5500, d: 5500 });
    const batches = await lake.metrics.select('SELECT batch_no, rows FROM source_batches WHERE run_id = $1 ORDER BY batch_no', [result.runId]);
    expect(batches.map((b) => b.rows)).toEqual([1100, 1100, 1100, 1100, 1100]);
  });
});
