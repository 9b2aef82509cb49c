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

describe('the cursor after a batch that could not be written', () => {
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
});
