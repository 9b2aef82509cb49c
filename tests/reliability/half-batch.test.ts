/**
 * A build in one process while an extract in another is committing a batch.
 *
 * DESIGN (Bronze): "Each flush writes whole files under data/.tmp/ and renames them into place;
 * the committed files of a run are listed in the metrics db (`bronze_files`) … nothing partial is
 * ever visible." README: "several processes can extract and build at once".
 *
 * A batch of a dataset partitioned by store is several files, renamed into bronze one by one
 * (applyMoves) before the batch is recorded. `source()` lists the dataset's folder (scanBronze),
 * less the files of a running extract not yet in `bronze_files`. The extractor here is frozen
 * (SIGSTOP, as a slow disk or a descheduled process would) after the second of its batch's three
 * renames, so the race is exact rather than lucky. A build that compiled the staging view over
 * those two files would publish two thirds of a batch, and an incremental model merging rows past
 * its `max(_extracted_at)` (the usual dbt pattern, used by the reliability models of
 * tests/helpers/reliability.ts) would never merge the last third: rows lost for good.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { writeItemsModels } from '../helpers/reliability.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Extracts one batch of 3,000 rows (3 stores → 3 files); stops itself after the 2nd file is renamed into bronze. */
const EXTRACTOR = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
import { syntheticItems } from ${JSON.stringify(path.join(repo, 'tests', 'helpers', 'synthetic-source.ts'))};
const [root] = process.argv.slice(2);
const rename = fs.renameSync;
let intoBronze = 0;
fs.renameSync = function (from, to) {
  const out = rename.call(this, from, to);
  if (String(to).includes('/bronze/') && ++intoBronze === 2) {
    fs.writeSync(1, 'PAUSED\\n');
    process.kill(process.pid, 'SIGSTOP');
  }
  return out;
} as typeof fs.renameSync;
syncBuiltinESMExports();
const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 3000 } });
try {
  const r = await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000, priceShift: 1000 })]);
  fs.writeSync(1, JSON.stringify({ status: r.status, rows: r.sources[0].rows, runId: r.runId }) + '\\n');
} finally {
  await lake.close();
}
`;

describe('a build while another process commits a batch', () => {
  it('sees the batch whole or not at all, and a later build merges every row of it', async () => {
    const base = tempDir('duckhouse-half-batch-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeItemsModels(models, 'half');
    // A first extract and build: trusted.items is incremental from here on.
    {
      const lake = await Lakehouse.open({ root, models, log: { console: false }, limits: { flushRows: 3000 } });
      try {
        await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })]);
        expect((await lake.build({ vars: { build_no: 1 } })).status).toBe('success');
      } finally {
        await lake.close();
      }
    }
    // Ids 0..2999 again, with new prices: the incremental model must take every one of them.
    const script = path.join(base, 'extractor.mts');
    fs.writeFileSync(script, EXTRACTOR);
    const child = spawn(process.execPath, ['--import', 'tsx', script, root], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const paused = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('PAUSED')) resolve();
      });
      child.on('exit', () => reject(new Error(`extractor exited before pausing: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await paused;

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      // The extractor is alive, between its second and third rename: a build now.
      expect((await lake.build({ vars: { build_no: 2 } })).status).toBe('success');
      const [seen] = await lake.query(`SELECT count(*) AS n FROM staging.stg_items WHERE price > 1000`);
      child.kill('SIGCONT');
      expect(await exited, stderr).toBe(0);
      const result = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as { status: string; rows: number };
      expect(result).toMatchObject({ status: 'success', rows: 3000 });

      // The batch whole or not at all (its 3,000 rows are the only ones priced above 1000).
      expect.soft([0, 3000], 'rows of the batch being committed seen by the build').toContain(Number(seen!.n));
      // Once the extract is done, a build takes every row of it: the latest price of each id.
      expect((await lake.build({ vars: { build_no: 3 } })).status).toBe('success');
      const [after] = await lake.query(`SELECT count(*) AS items, count(*) FILTER (WHERE price > 1000) AS repriced FROM trusted.items`);
      expect(after).toEqual({ items: 3000, repriced: 3000 });
    } finally {
      child.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);
});
