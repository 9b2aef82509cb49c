/**
 * A lake folder moved or copied between a kill mid-commit and the next open (rsync to a bigger
 * disk, `mv data data-old && cp -r data-old data`, a CI cache restored at another path).
 *
 * DESIGN (Bronze): "A run killed midway keeps the batches it committed … nothing partial is ever
 * visible." The extractor of mid-batch.ts stops itself after the second of its batch's three renames
 * into bronze, past the batch's commit point, and is killed there. The lake is then opened at its
 * new root: the batch must be rolled forward there, whole, and nothing outside the new root touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { schemaFile } from '../../src/transform/source-relation.js';
import { expectCommittedBronze, treeDigest } from '../helpers/lake-checks.js';
import { pausedExtractor } from '../helpers/mid-batch.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

describe('a lake moved or copied after a kill mid-commit', () => {
  for (const how of ['moved', 'copied'] as const) {
    it(`rolls the batch forward at the new root (${how}), touching nothing outside it`, async () => {
      const base = tempDir('duckhouse-moved-lake-');
      const old = path.join(base, 'data');
      const extractor = pausedExtractor(base, old);
      try {
        await extractor.reached;
      } finally {
        extractor.kill('SIGKILL');
      }
      await extractor.exited;
      expect(listFiles(path.join(old, '.tmp')).filter((f) => f.endsWith('.commit.json')), 'a manifest past its commit point').toHaveLength(1);
      expect(listFiles(path.join(old, 'bronze')), 'two of the batch\'s three files renamed into bronze').toHaveLength(2);

      const root = path.join(base, 'elsewhere', 'data');
      fs.mkdirSync(path.dirname(root));
      if (how === 'moved') fs.renameSync(old, root);
      else fs.cpSync(old, root, { recursive: true });
      const oldDigest = how === 'copied' ? treeDigest(old) : undefined;

      const lake = await Lakehouse.open({ root, log: { console: false } });
      try {
        const [run] = await lake.metrics.select("SELECT run_id, status FROM runs WHERE kind = 'extract'");
        expect(run?.status).toBe('abandoned');
        const [batch] = await lake.metrics.select('SELECT sum(rows) AS rows, count(*) AS files FROM bronze_files WHERE run_id = $1', [String(run!.run_id)]);
        expect({ rows: Number(batch!.rows), files: Number(batch!.files) }).toEqual({ rows: 3000, files: 3 });
        expect(await expectCommittedBronze(lake)).toEqual({ files: 3, rows: 3000 });
        // The schema its run would have recorded with the batch, at the new root.
        const recorded = JSON.parse(fs.readFileSync(schemaFile(root, 'half', 'items'), 'utf8')) as { runId?: string };
        expect(recorded.runId).toBe(run!.run_id);
      } finally {
        await lake.close();
      }
      if (how === 'moved') expect(fs.existsSync(old), 'the old root made again').toBe(false);
      else expect(treeDigest(old), 'the old copy, byte for byte').toEqual(oldDigest);
    });
  }
});
