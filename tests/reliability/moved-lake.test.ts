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
import { child, pausedExtractor, repo } from '../helpers/mid-batch.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

/** Compacts `half/items`; stops itself once its first output is renamed into bronze, before the switch records it. */
const COMPACTOR = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root] = process.argv.slice(2);
const rename = fs.renameSync;
fs.renameSync = function (from, to) {
  const out = rename.call(this, from, to);
  if (/\\/bronze\\/.*-c\\d{8}T/.test(String(to))) {
    fs.writeSync(1, 'PAUSED\\n');
    process.kill(process.pid, 'SIGSTOP');
  }
  return out;
} as typeof fs.renameSync;
syncBuiltinESMExports();
const lake = await Lakehouse.open({ root, log: { console: false } });
try {
  await lake.compact({ source: 'half', dataset: 'items' });
} finally {
  await lake.close();
}
`;

/** Moves (renameSync) or copies (cpSync, the old folder left) the lake at `old` to a new root, returned. */
function relocate(base: string, old: string, how: 'moved' | 'copied'): string {
  const root = path.join(base, 'elsewhere', 'data');
  fs.mkdirSync(path.dirname(root));
  if (how === 'moved') fs.renameSync(old, root);
  else fs.cpSync(old, root, { recursive: true });
  return root;
}

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

      const root = relocate(base, old, how);
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

  for (const how of ['moved', 'copied'] as const) {
    it(`rolls back a compaction killed before its switch at the new root (${how}), touching nothing outside it`, async () => {
      const base = tempDir('duckhouse-moved-compact-');
      const old = path.join(base, 'data');
      const setup = await Lakehouse.open({ root: old, log: { console: false } });
      try {
        for (let run = 0; run < 2; run++) await setup.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 300, priceShift: run })]);
      } finally {
        await setup.close();
      }
      const compactor = child(base, 'compactor', COMPACTOR, [old], 'PAUSED');
      try {
        await compactor.reached;
      } finally {
        compactor.kill('SIGKILL');
      }
      await compactor.exited;
      expect(listFiles(path.join(old, '.tmp')).filter((f) => /compact-.*\.json$/.test(f)), 'a compaction manifest').toHaveLength(1);
      expect(listFiles(path.join(old, 'bronze')).filter((f) => /-c\d{8}T/.test(f)), 'an output renamed into bronze, not switched in').toHaveLength(1);

      const root = relocate(base, old, how);
      const oldDigest = how === 'copied' ? treeDigest(old) : undefined;
      const lake = await Lakehouse.open({ root, log: { console: false } });
      try {
        // The unswitched output is gone; every file under bronze/ is a committed one.
        expect(await expectCommittedBronze(lake)).toEqual({ files: 6, rows: 600 });
        expect((await lake.bronze('half/items')).length).toBe(600);
      } finally {
        await lake.close();
      }
      if (how === 'moved') expect(fs.existsSync(old), 'the old root made again').toBe(false);
      else expect(treeDigest(old), 'the old copy, byte for byte').toEqual(oldDigest);
    });
  }
});
