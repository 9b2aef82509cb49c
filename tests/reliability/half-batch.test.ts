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
import { acquireLock } from '../../src/extract/file-lock.js';
import { itemsModels, writeItemsModels } from '../helpers/reliability.js';
import { writeFiles } from '../helpers/models.js';
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

/** The extractor above in its own process, resolved once it has stopped itself between two renames. */
function pausedExtractor(base: string, root: string): { paused: Promise<void>; exited: Promise<number | null>; result(): { status: string; rows: number }; stderr(): string; cont(): void } {
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
  return {
    paused,
    exited,
    result: () => JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as { status: string; rows: number },
    stderr: () => stderr,
    cont: () => void child.kill('SIGCONT'),
  };
}

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

/** Once the extract is done, a build takes every row of it: the latest price of each id. */
async function expectEveryRowMerged(lake: Lakehouse): Promise<void> {
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
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, models, go, mode, line] = process.argv.slice(2);
const write = process.stderr.write.bind(process.stderr);
let waited = false;
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  if (!waited && String(chunk).includes(line)) {
    waited = true;
    fs.writeSync(1, 'WAITING\\n');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(go) && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
  }
  return write(chunk, ...rest);
}) as typeof process.stderr.write;
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

/**
 * Runs BUILDER with `mode`; once it waits at `line`, the extractor is started and stopped mid-batch,
 * then the child goes on. Resolves with the child's JSON line.
 */
async function withExtractorMidway(base: string, root: string, models: string, mode: 'build' | 'test', line: string): Promise<{ out: Record<string, unknown>; extractor: ReturnType<typeof pausedExtractor> }> {
  const go = path.join(base, 'go');
  const script = path.join(base, 'builder.mts');
  fs.writeFileSync(script, BUILDER);
  const child = spawn(process.execPath, ['--import', 'tsx', script, root, models, go, mode, line], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: 'true' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const waiting = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('WAITING')) resolve();
    });
    child.on('exit', () => reject(new Error(`the ${mode} ended before logging "${line}": ${err}`)));
  });
  const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let extractor: ReturnType<typeof pausedExtractor> | undefined;
  try {
    await waiting;
    extractor = pausedExtractor(base, root);
    await extractor.paused;
    fs.writeFileSync(go, '');
    expect(await ended, err).toBe(0);
    return { out: JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as Record<string, unknown>, extractor };
  } catch (error) {
    extractor?.cont();
    throw error;
  } finally {
    child.kill('SIGKILL');
  }
}

describe('a build while another process commits a batch', () => {
  it('sees the batch whole or not at all, and a later build merges every row of it', async () => {
    const base = tempDir('duckhouse-half-batch-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeItemsModels(models, 'half');
    await firstBuild(root, models);
    // Ids 0..2999 again, with new prices: the incremental model must take every one of them.
    const extractor = pausedExtractor(base, root);
    await extractor.paused;

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      // The extractor is alive, between its second and third rename: a build now.
      expect((await lake.build({ vars: { build_no: 2 } })).status).toBe('success');
      const [seen] = await lake.query(`SELECT count(*) AS n FROM staging.stg_items WHERE price > 1000`);
      extractor.cont();
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });

      // The batch whole or not at all (its 3,000 rows are the only ones priced above 1000).
      expect.soft([0, 3000], 'rows of the batch being committed seen by the build').toContain(Number(seen!.n));
      await expectEveryRowMerged(lake);
    } finally {
      extractor.cont();
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
    let extractor: ReturnType<typeof pausedExtractor> | undefined;
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
      await extractor.paused;
      other.release();
      expect((await building).status).toBe('success');
      const [seen] = await lake.query(`SELECT count(*) AS n FROM staging.stg_items WHERE price > 1000`);
      extractor.cont();
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });
      expect.soft([0, 3000], 'rows of the batch being committed seen by the build').toContain(Number(seen!.n));
      await expectEveryRowMerged(lake);
    } finally {
      other.release();
      extractor?.cont();
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
    const { out, extractor } = await withExtractorMidway(base, root, models, 'build', 'built staging.aaa_first');
    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      const [seen] = await lake.query(`SELECT count(*) AS n, max(build) AS build FROM staging.stg_items WHERE price > 1000`);
      extractor.cont();
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });
      expect.soft([0, 3000], 'rows of the batch being committed seen by the build').toContain(Number(seen!.n));
      await expectEveryRowMerged(lake);
    } finally {
      extractor.cont();
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
    const { out, extractor } = await withExtractorMidway(base, root, models, 'test', 'test aa_always_fails');
    try {
      expect(out.waited).toBe(true);
      const tests = out.tests as [string, string, number][];
      expect(tests.map(([name]) => name)).toEqual(['aa_always_fails', 'zz_repriced_rows']);
      extractor.cont();
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect([0, 3000], 'rows of the batch being committed seen by the test').toContain(tests[1]![2]);
    } finally {
      extractor.cont();
    }
  }, 120_000);
});
