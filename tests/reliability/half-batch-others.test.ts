/**
 * Readers of bronze other than the build while another process commits a batch (see
 * half-batch.test.ts for the build and lake.test).
 *
 * A batch of a dataset partitioned by store is several files, renamed into bronze one by one
 * before the batch is recorded in the metrics db; readers hide the files of a run still `running`
 * that are not recorded yet. That rule holds only when the folder is listed right after the
 * metrics db was read, and only while a run whose batch is half renamed stays `running`. The
 * extractor here is frozen (SIGSTOP) after the second of its batch's three renames; the other
 * side waits at a chosen point (a busy wait on a file) for an exact interleaving.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { writeFiles } from '../helpers/models.js';
import { BUSY_WAIT, IMPORT_LAKEHOUSE, WAIT_AT_LOG_LINE, child, expectExtractorDone, pausedExtractor, repo, withExtractorMidway, type Child } from '../helpers/mid-batch.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';

/**
 * `lake.compact` or `lake.prune` of half/items in its own process, which waits (a busy wait:
 * nothing of its own runs meanwhile) when it first reads the dataset's records from the metrics
 * db (as a wait for the metrics file's lock would), until the file `go` exists.
 */
const LIFECYCLE = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
import { MetricsDb } from ${JSON.stringify(path.join(repo, 'src', 'metrics', 'metrics-db.ts'))};
const [root, mode, go] = process.argv.slice(2);
${BUSY_WAIT}
const records = MetricsDb.prototype.bronzeRecords;
MetricsDb.prototype.bronzeRecords = function (...args) {
  if (!waited) waitForGo(go);
  return records.apply(this, args);
} as typeof records;
const lake = await Lakehouse.open({ root, log: { console: false } });
try {
  const r = mode === 'compact'
    ? await lake.compact({ source: 'half', dataset: 'items' })
    : await lake.prune({ source: 'half', dataset: 'items', olderThan: '2999-01-01' });
  fs.writeSync(1, JSON.stringify({ status: r.status, waited }) + '\\n');
} finally {
  await lake.close();
}
`;

/** A first extract: ids 0..2999 priced below 1000, one file per store. */
async function firstExtract(root: string): Promise<void> {
  const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 3000 } });
  try {
    expect((await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })])).status).toBe('success');
  } finally {
    await lake.close();
  }
}

/** Rows of the extractor's batch (the only ones priced above 1000) and all rows, as `lake.bronze` reads them now. */
async function bronzeRows(lake: Lakehouse): Promise<{ batch: number; all: number }> {
  const rows = await lake.bronze<{ price: number }>('half/items');
  return { batch: rows.filter((r) => r.price > 1000).length, all: rows.length };
}

describe('compaction and prune while another process commits a batch', () => {
  it('a compaction leaves a batch being committed out whole: readers never see part of it', async () => {
    const base = tempDir('duckhouse-half-batch-compact-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const { out, extractor } = await withExtractorMidway(base, root, 'compact', LIFECYCLE, [root, 'compact']);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      // The extractor is still stopped between its second and third rename.
      const during = await bronzeRows(lake);
      await expectExtractorDone(extractor);
      expect.soft([0, 3000], 'rows of the batch being committed seen after the compaction').toContain(during.batch);
      expect(await bronzeRows(lake)).toEqual({ batch: 3000, all: 6000 });
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);

  it('a prune takes a batch being committed whole or leaves it whole: no part of it is lost', async () => {
    const base = tempDir('duckhouse-half-batch-prune-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const { out, extractor } = await withExtractorMidway(base, root, 'prune', LIFECYCLE, [root, 'prune']);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      await expectExtractorDone(extractor);
      // The first extract is pruned; the batch committed meanwhile is pruned whole or kept whole.
      const after = await bronzeRows(lake);
      expect([0, 3000], 'rows of the batch committed during the prune left in bronze').toContain(after.batch);
      expect(after.all).toBe(after.batch);
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);
});


/**
 * `Lakehouse.open` in its own process, which waits (a busy wait) when its console log first shows
 * `line`, until the file `go` exists.
 */
const OPENER = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
const [root, line, go] = process.argv.slice(2);
${WAIT_AT_LOG_LINE}
const lake = await Lakehouse.open({ root, log: { console: true } });
await lake.close();
fs.writeSync(1, JSON.stringify({ waited }) + '\\n');
`;

describe('an open while an extract of another process dies mid-commit', () => {
  it('the dead run stays running, its batch hidden, until its batch is rolled forward: never seen in part', async () => {
    // An open recovers dead processes' folders (rolling their committed batches forward), then
    // marks dead runs abandoned. An extract that dies between the two (alive when its folder was
    // looked at, dead when its run is) must not have its half-renamed batch shown as committed.
    const base = tempDir('duckhouse-half-batch-open-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const reader = await Lakehouse.open({ root, log: { console: false } });
    let extractor: Child | undefined;
    try {
      extractor = pausedExtractor(base, root);
      await extractor.reached;
      // A temp file of a process that is gone (pid out of range): the open removes it between its
      // recovery of dead processes' folders and its marking of dead runs, and logs it.
      fs.writeFileSync(path.join(root, 'state', 'planted.json.2147483646.abc123.tmp'), '{}');
      const go = path.join(base, 'go');
      const opener = child(base, 'opener', OPENER, [root, 'temp file(s) a dead process left', go], 'WAITING');
      try {
        await opener.reached;
        extractor.kill('SIGKILL');
        await extractor.exited;
        fs.writeFileSync(go, '');
        expect(await opener.exited, opener.stderr()).toBe(0);
        expect(opener.result()).toEqual({ waited: true });
      } finally {
        opener.kill('SIGKILL');
      }
      const during = await bronzeRows(reader);
      expect.soft([0, 3000], 'rows of the dead extract\'s batch seen after the open').toContain(during.batch);
    } finally {
      extractor?.kill('SIGKILL');
      await reader.close();
    }
    // Its batch was past its commit point: an open rolls it forward, whole.
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(await bronzeRows(lake)).toEqual({ batch: 3000, all: 6000 });
      const [run] = (await lake.runs({ limit: 5 })).filter((r) => r.kind === 'extract' && r.runId > '');
      expect(run?.status).toBe('abandoned');
    } finally {
      await lake.close();
    }
  }, 120_000);
});

/**
 * `lake.test()` in its own process, which waits (a busy wait) when its console log first shows
 * `line`, until the file `go` exists.
 */
const TESTER = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
const [root, models, line, go] = process.argv.slice(2);
${WAIT_AT_LOG_LINE}
const lake = await Lakehouse.open({ root, models, log: { console: true } });
try {
  const tests = await lake.test();
  fs.writeSync(1, JSON.stringify({ tests: tests.map((t) => [t.name, t.status, t.error ?? null]), waited }) + '\\n');
} finally {
  await lake.close();
}
`;

describe('a compaction while lake.test runs in another process', () => {
  it('keeps the files the test run listed until it ends, however short the retention', async () => {
    // lake.test lists the datasets its tests read when it starts, and reads them at each test's
    // turn. A compaction (retention 0) switching and purging them in between must not delete them
    // under it, as it does not under a build running.
    const base = tempDir('duckhouse-compact-during-test-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/one.sql': `select 1 as one`,
      'assertions/aa_always_fails.sql': `select 1 as one`,
      'assertions/zz_no_negative_price.sql': `select id from {{ source('half', 'items') }} where price < 0`,
    });
    const lake = await Lakehouse.open({ root, models, log: { console: false }, limits: { flushRows: 1500 }, retainSupersededMinutes: 0 });
    try {
      // Two batches: two small files per store partition, for compaction to merge.
      expect((await lake.extract([syntheticItems({ source: 'half', batches: 2, rowsPerBatch: 1500 })])).status).toBe('success');
      expect((await lake.build({ test: false })).status).toBe('success');
      const go = path.join(base, 'go');
      const tester = child(base, 'tester', TESTER, [root, models, 'test aa_always_fails', go], 'WAITING');
      try {
        await tester.reached;
        const compacted = await lake.compact({ source: 'half', dataset: 'items' });
        expect(compacted.filesIn).toBeGreaterThan(0);
        fs.writeFileSync(go, '');
        expect(await tester.exited, tester.stderr()).toBe(0);
      } finally {
        tester.kill('SIGKILL');
      }
      const out = tester.result() as { tests: [string, string, string | null][]; waited: boolean };
      expect(out.waited).toBe(true);
      expect(out.tests).toEqual([
        ['aa_always_fails', 'fail', null],
        ['zz_no_negative_price', 'pass', null],
      ]);
      // Once the test run has ended, the next compaction or build deletes them.
      expect((await lake.compact({ source: 'half', dataset: 'items' })).deleted).toBeGreaterThan(0);
    } finally {
      await lake.close();
    }
  }, 120_000);
});

/**
 * A reader of bronze other than a build or a test run, in its own process: `lake.bronze`,
 * `lake.exportDdl` or a source's `ctx.bronzeFiles` lists half/items, then waits (a busy wait)
 * before it reads the files it listed, until the file `go` exists. `lake.bronze` and `exportDdl`
 * wait at their first statement reading Parquet (the listing is done by then); the source waits
 * between `ctx.bronzeFiles` and its own read.
 */
const BRONZE_READER = `
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Lakehouse, defineSource, z } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, mode, go] = process.argv.slice(2);
${BUSY_WAIT}
const api = createRequire(${JSON.stringify(path.join(repo, 'package.json'))})('@duckdb/node-api');
const run = api.DuckDBConnection.prototype.runAndReadAll;
api.DuckDBConnection.prototype.runAndReadAll = function (sql, ...rest) {
  if (!waited && mode !== 'source' && /read_parquet|parquet_schema/.test(String(sql))) waitForGo(go);
  return run.call(this, sql, ...rest);
};
const lake = await Lakehouse.open({ root, log: { console: false } });
try {
  let out;
  if (mode === 'bronze') out = { rows: (await lake.bronze('half/items')).length };
  else if (mode === 'ddl') out = { declaresPrice: /"price" DOUBLE/.test(await lake.exportDdl({ engine: 'trino' })) };
  else {
    let rows = 0;
    const counter = defineSource({
      source: 'reader',
      dataset: 'counts',
      schema: z.object({ n: z.number() }),
      async *extract(ctx) {
        const files = await ctx.bronzeFiles('half', 'items');
        waitForGo(go);
        const c = await ctx.connect();
        rows = Number((await c.runAndReadAll(\`SELECT count(*) AS n FROM read_parquet([\${files.map((f) => \`'\${f}'\`).join(', ')}])\`)).getRowObjectsJS()[0].n);
        yield [{ n: rows }];
      },
    });
    const r = await lake.extract([counter]);
    out = { status: r.status, error: r.sources[0].error ?? null, rows };
  }
  fs.writeSync(1, JSON.stringify({ ...out, waited }) + '\\n');
} finally {
  await lake.close();
}
`;

describe('a compaction while another process reads the bronze files it listed', () => {
  it.each([
    ['lake.bronze', 'bronze', { rows: 3000 }],
    ['lake.exportDdl', 'ddl', { declaresPrice: true }],
    ['a source reading ctx.bronzeFiles', 'source', { status: 'success', error: null, rows: 3000 }],
  ])('%s: keeps the files it listed until it has read them, however short the retention', async (_, mode, expected) => {
    // The reader lists the files, then reads them. A compaction (retention 0) switching and purging
    // them in between must not delete them under it, as it does not under a build or a test run.
    const base = tempDir(`duckhouse-compact-during-${mode}-`);
    const root = path.join(base, 'data');
    const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 1500 }, retainSupersededMinutes: 0 });
    try {
      // Two batches: two small files per store partition, for compaction to merge.
      expect((await lake.extract([syntheticItems({ source: 'half', batches: 2, rowsPerBatch: 1500 })])).status).toBe('success');
      const go = path.join(base, 'go');
      const reader = child(base, 'reader', BRONZE_READER, [root, mode, go], 'WAITING');
      try {
        await reader.reached;
        const compacted = await lake.compact({ source: 'half', dataset: 'items' });
        expect(compacted.filesIn).toBe(6);
        fs.writeFileSync(go, '');
        expect(await reader.exited, reader.stderr()).toBe(0);
      } finally {
        reader.kill('SIGKILL');
      }
      expect(reader.result()).toEqual({ ...expected, waited: true });
      // Once the reader has ended, the next compaction deletes them.
      expect((await lake.compact({ source: 'half', dataset: 'items' })).deleted).toBe(6);
    } finally {
      await lake.close();
    }
  }, 120_000);
});
