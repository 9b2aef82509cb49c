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
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { acquireLock } from '../../src/extract/file-lock.js';
import { itemsModels, writeItemsModels } from '../helpers/reliability.js';
import { writeFiles } from '../helpers/models.js';
import { IMPORT_LAKEHOUSE, WAIT_AT_LOG_LINE, expectExtractorDone, pausedExtractor, withExtractorMidway, type Child } from '../helpers/mid-batch.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';

/** A first extract (ids 0..2999) and build: trusted.items is incremental from here on. */
async function firstBuild(root: string, models: string): Promise<void> {
  const lake = await Lakehouse.open({ root, models, log: { console: false }, limits: { flushRows: 3000 } });
  try {
    await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })]);
    expect((await lake.build({ vars: { build_no: 1 }, test: false })).status).toBe('success');
  } finally {
    await lake.close();
  }
}

/**
 * What the build published while the extractor was stopped mid-batch holds the batch whole or not
 * at all (its 3,000 rows are the only ones priced above 1000); once the extract is done, a build
 * takes every row of it: the latest price of each id.
 */
async function expectBatchWholeOrNone(lake: Lakehouse, extractor: Child): Promise<void> {
  const [seen] = await lake.query(`SELECT count(*) AS n FROM staging.stg_items WHERE price > 1000`);
  await expectExtractorDone(extractor);
  expect.soft([0, 3000], 'rows of the batch being committed seen by the build').toContain(Number(seen!.n));
  expect((await lake.build({ vars: { build_no: 3 } })).status).toBe('success');
  const [after] = await lake.query(`SELECT count(*) AS items, count(*) FILTER (WHERE price > 1000) AS repriced FROM trusted.items`);
  expect(after).toEqual({ items: 3000, repriced: 3000 });
}

/**
 * `lake.build()` (`build`) or `lake.test()` (`test`) in its own process, which waits (a busy wait:
 * nothing of its own runs meanwhile) when its console log first shows `line`, until the file `go` exists.
 */
const BUILDER = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
const [root, models, mode, line, go] = process.argv.slice(2);
${WAIT_AT_LOG_LINE}
const lake = await Lakehouse.open({ root, models, log: { console: true } });
try {
  if (mode === 'build') {
    const r = await lake.build({ vars: { build_no: 2 } });
    fs.writeSync(1, JSON.stringify({ status: r.status, waited }) + '\\n');
  } else {
    const tests = await lake.test();
    fs.writeSync(1, JSON.stringify({ tests: tests.map((t) => [t.name, t.status, t.failures]), waited }) + '\\n');
  }
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
    await firstBuild(root, models);
    // Ids 0..2999 again, with new prices: the incremental model must take every one of them.
    const extractor = pausedExtractor(base, root);
    await extractor.reached;

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      // The extractor is alive, between its second and third rename: a build now.
      expect((await lake.build({ vars: { build_no: 2 } })).status).toBe('success');
      await expectBatchWholeOrNone(lake, extractor);
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);

  it('a build that waited for another build reads the bronze as it is when its turn comes', async () => {
    // The build's start (and what it reads of bronze from the metrics db) is recorded before it
    // waits for the build lock. An extract that starts during that wait and is stopped mid-batch
    // when the build's turn comes must not have its first files seen as committed.
    const base = tempDir('duckhouse-half-batch-wait-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeItemsModels(models, 'half');
    await firstBuild(root, models);

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    // Another build holds the lock (this process's own, taken by hand: the build queues behind it).
    const other = await acquireLock(path.join(root, 'analytics.duckdb'));
    let extractor: Child | undefined;
    try {
      const building = lake.build({ vars: { build_no: 2 } });
      building.catch(() => undefined);
      // Its start is recorded: it now waits for the lock.
      const deadline = Date.now() + 30_000;
      while (!(await lake.runs({ limit: 5 })).some((r) => r.kind === 'build' && r.status === 'running')) {
        if (Date.now() > deadline) throw new Error('the build never recorded its start');
        await new Promise((r) => setTimeout(r, 20));
      }
      extractor = pausedExtractor(base, root);
      await extractor.reached;
      other.release();
      expect((await building).status).toBe('success');
      await expectBatchWholeOrNone(lake, extractor);
    } finally {
      other.release();
      extractor?.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);

  it('a build reads each dataset as it was when it started, whatever starts while it runs', async () => {
    // An extract that starts while a build runs, after the build read the bronze it builds from,
    // and is stopped mid-batch when the build reaches the model reading its dataset.
    const base = tempDir('duckhouse-half-batch-during-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      ...itemsModels('half'),
      // Built first; the staging view is rebuilt (its SQL names the build) after it.
      'staging/aaa_first.sql': `select {{ var('build_no', 0) }} as build`,
      'staging/stg_items.sql': `-- depends_on: {{ ref('aaa_first') }}
select id, store, price, _run_id, _extracted_at, {{ var('build_no', 0) }} as build from {{ source('half', 'items') }}`,
    });
    await firstBuild(root, models);
    const { out, extractor } = await withExtractorMidway(base, root, 'builder', BUILDER, [root, models, 'build', 'built staging.aaa_first']);
    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      await expectBatchWholeOrNone(lake, extractor);
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);

  it('lake.test reads each dataset as it was when it started', async () => {
    // The same for the data tests: a singular test reading the source, after one that fails.
    const base = tempDir('duckhouse-half-batch-test-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      ...itemsModels('half'),
      'assertions/aa_always_fails.sql': `select 1 as one`,
      'assertions/zz_repriced_rows.sql': `select id from {{ source('half', 'items') }} where price > 1000`,
    });
    await firstBuild(root, models);
    const { out, extractor } = await withExtractorMidway(base, root, 'tester', BUILDER, [root, models, 'test', 'test aa_always_fails']);
    try {
      expect(out.waited).toBe(true);
      const tests = out.tests as [string, string, number][];
      expect(tests.map(([name]) => name)).toEqual(['aa_always_fails', 'zz_repriced_rows']);
      await expectExtractorDone(extractor);
      expect([0, 3000], 'rows of the batch being committed seen by the test').toContain(tests[1]![2]);
    } finally {
      extractor.kill('SIGCONT');
    }
  }, 120_000);
});
