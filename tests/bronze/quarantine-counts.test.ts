/**
 * Counts: what a source received = rows in bronze + lines in quarantine, and the metrics tables
 * agree with the result (source_batches is what an abandoned run's counts are rebuilt from).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

describe('rejections after the last committed batch', () => {
  it('are counted in source_batches as in the result and the quarantine file', async () => {
    const lake = await tempLake({ limits: { flushRows: 2 } });
    const source = defineSource({
      source: 'q',
      dataset: 'tail',
      schema: z.object({ id: z.number() }),
      async *extract() {
        yield [{ id: 1 }, { id: 2 }]; // a full batch: flushed and committed
        yield [{ id: 'x' }, { id: 'y' }]; // both rejected; nothing valid follows
      },
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 2 });
    const lines = fs.readFileSync(path.join(lake.paths.quarantine, 'q', 'tail', `${result.runId}.ndjson`), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    const [batches] = await lake.metrics.select('SELECT sum(rows) AS rows, sum(rejected) AS rejected FROM source_batches WHERE run_id = $1', [result.runId]);
    expect(batches).toEqual({ rows: 2, rejected: 2 });
  });

  it('a source whose every record is rejected still shows them in source_batches', async () => {
    const lake = await tempLake();
    const source = defineSource({ source: 'q', dataset: 'all_bad', schema: z.object({ id: z.number() }), extract: () => [[{ id: 'a' }, { id: 'b' }, { id: 'c' }]] });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ rows: 0, rejected: 3 });
    const [batches] = await lake.metrics.select('SELECT coalesce(sum(rejected), 0) AS rejected FROM source_batches WHERE run_id = $1', [result.runId]);
    expect(batches).toEqual({ rejected: 3 });
  });
});
