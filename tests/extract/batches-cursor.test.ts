import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

/** Three batches of ten records; after each, the cursor says "everything up to here". A flush every 15 rows: the first one holds a batch the cursor already covers. */
const source = defineSource({
  source: 's',
  dataset: 'items',
  schema: z.object({ id: z.number() }),
  limits: { flushRows: 15 },
  async *extract(ctx) {
    const from = Number((await ctx.cursor()) ?? 0);
    for (let b = 0; b < 3; b++) {
      yield Array.from({ length: 10 }, (_, i) => ({ id: from + b * 10 + i + 1 }));
      ctx.checkpoint(from + (b + 1) * 10);
    }
  },
});

describe('batches and the cursor', () => {
  it('is not advanced past records that never reached bronze, so the next run reads them again', async () => {
    const lake = await tempLake();
    const datasetDir = path.join(lake.paths.root, 'bronze', 's', 'items');
    const cursorFile = path.join(lake.paths.state, 'cursors', 's.items.json');
    // A file where the dataset folder goes: every commit of a batch fails.
    fs.mkdirSync(path.dirname(datasetDir), { recursive: true });
    fs.writeFileSync(datasetDir, 'not a folder');
    const failed = await lake.extract(source);
    expect(failed.status).toBe('failed');
    expect(failed.sources[0]!.rows).toBe(0);
    expect(fs.existsSync(cursorFile)).toBe(false);

    fs.rmSync(datasetDir);
    const ok = await lake.extract(source);
    expect(ok.status).toBe('success');
    const ids = (await lake.query(`SELECT id FROM read_parquet('${datasetDir}/**/*.parquet') ORDER BY id`)).map((r) => Number(r.id));
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('commits batches in order while the next is buffered, each recording a cursor not ahead of the rows committed so far', async () => {
    const lake = await tempLake();
    const many = defineSource({
      source: 's',
      dataset: 'many',
      schema: z.object({ id: z.number() }),
      limits: { flushRows: 10 },
      async *extract(ctx) {
        for (let b = 0; b < 12; b++) {
          yield Array.from({ length: 10 }, (_, i) => ({ id: b * 10 + i + 1 }));
          ctx.checkpoint(b * 10 + 10);
        }
      },
    });
    const r = await lake.extract(many);
    expect(r.status).toBe('success');
    expect(r.sources[0]!.rows).toBe(120);
    const batches = (await lake.metrics.select(`SELECT batch_no, rows, cursor::VARCHAR AS cursor FROM source_batches WHERE run_id = $1 ORDER BY batch_no`, [r.runId])).map((b) => ({
      batchNo: Number(b.batch_no),
      rows: Number(b.rows),
      cursor: b.cursor === null ? null : Number(JSON.parse(String(b.cursor))),
    }));
    expect(batches.map((b) => b.batchNo)).toEqual(Array.from({ length: batches.length }, (_, i) => i + 1));
    expect(batches.reduce((s, b) => s + b.rows, 0)).toBe(120);
    let committed = 0;
    let last = -1;
    for (const b of batches) {
      committed += b.rows;
      if (b.cursor === null) continue;
      expect(b.cursor).toBeLessThanOrEqual(committed);
      expect(b.cursor).toBeGreaterThan(last);
      last = b.cursor;
    }
    expect(JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'cursors', 's.many.json'), 'utf8'))).toMatchObject({ cursor: 120 });
    const ids = (await lake.query(`SELECT id FROM read_parquet('${path.join(lake.paths.root, 'bronze', 's', 'many')}/**/*.parquet') ORDER BY id`)).map((x) => Number(x.id));
    expect(ids).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
  });
});
