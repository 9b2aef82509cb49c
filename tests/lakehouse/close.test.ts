/**
 * close() while work is running, and two lakes of one process on one root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClosedError, Lakehouse, defineSource, z } from '../../src/index.js';
import { metricsRows } from '../helpers/metrics-read.js';
import { tempDir } from '../helpers/temp-lake.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lake's last run, read by a new open: a `kind` run recorded failed because the lake closed. */
async function expectLastRunClosed(p: { root: string; models: string }, kind: 'build' | 'test'): Promise<void> {
  const again = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
  try {
    expect((await again.runs())[0]).toMatchObject({ kind, status: 'failed', error: expect.stringMatching(/closed/) });
  } finally {
    await again.close();
  }
}

describe('close() and running work', () => {
  it('close() during an extract stops it at its next page and records the run with the batches it committed', async () => {
    const root = path.join(tempDir(), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 10 } });
    const slow = defineSource({
      source: 'shop',
      dataset: 'slow',
      schema: z.object({ i: z.number() }),
      async *extract() {
        for (let b = 0; b < 50; b++) {
          yield Array.from({ length: 10 }, (_, i) => ({ i: b * 10 + i }));
          await sleep(20);
        }
      },
    });
    const done = lake.extract(slow);
    const dir = path.join(root, 'bronze', 'shop', 'slow');
    const committed = () => fs.existsSync(dir) && (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).length >= 2;
    while (!committed()) await sleep(5);
    await lake.close();
    const result = await done; // resolves: a failing source is a result, not a throw
    expect(result.sources[0]!.status).toBe('partial');
    expect(result.sources[0]!.error).toMatch(/closed/i);
    const again = await Lakehouse.open({ root, log: { console: false } });
    const visible = (await again.bronze('shop/slow')).length;
    await again.close();
    expect(visible).toBe(result.sources[0]!.rows);
    expect(visible).toBeGreaterThanOrEqual(20);
    const [run] = await metricsRows(root, `select run_id, status, rows, files from runs where kind = 'extract'`);
    const [files] = await metricsRows(root, `select coalesce(sum(rows), 0)::INTEGER as rows, count(*)::INTEGER as files from bronze_files where run_id = '${run!.run_id}'`);
    expect({ status: run!.status, rows: run!.rows, files: run!.files }).toEqual({ status: 'partial', rows: files!.rows, files: files!.files });
    const [source] = await metricsRows(root, `select status, rows from source_results where run_id = '${run!.run_id}'`);
    expect(source).toEqual({ status: 'partial', rows: visible });
  });

  it('closing one of two lakes of one process on one root leaves the other one\'s staged batches alone', async () => {
    const root = path.join(tempDir(), 'data');
    const a = await Lakehouse.open({ root, log: { console: false } });
    const b = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 20_000 } });
    try {
      const tmp = path.join(root, '.tmp');
      const source = defineSource({
        source: 'shop',
        dataset: 'x',
        schema: z.object({ i: z.number(), s: z.string() }),
        async *extract() {
          for (let k = 0; k < 3; k++) yield Array.from({ length: 20_000 }, (_, i) => ({ i: k * 20_000 + i, s: `v${i % 977}` }));
        },
      });
      const extracting = b.extract(source);
      // Wait until B has a batch staged in the process's temp folder, then close A.
      const staged = () =>
        fs.readdirSync(tmp).some((p) => {
          try {
            return fs.readdirSync(path.join(tmp, p)).some((e) => /-shop-x-\d+$/.test(e));
          } catch {
            return false;
          }
        });
      while (!staged()) await new Promise((r) => setImmediate(r));
      await a.close();
      const result = await extracting;
      expect(result.sources[0]!.error).toBeUndefined();
      expect(result.status).toBe('success');
      expect(await b.bronze('shop/x')).toHaveLength(60_000);
    } finally {
      await a.close();
      await b.close();
    }
    // The last one closed takes the process's temp folder with it.
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });
});

describe('close() during a build', () => {
  it('stops it at its next model: nothing is published, the run is recorded failed (was: it built all 80 models while close() waited, up to 30 s)', async () => {
    const { modelsProject } = await import('../helpers/models.js');
    const files: Record<string, string> = { 'marts/m000.sql': 'select 0 as x' };
    for (let i = 1; i < 80; i++) files[`marts/m${String(i).padStart(3, '0')}.sql`] = `select x + 1 as x from {{ ref('m${String(i - 1).padStart(3, '0')}') }}`;
    const p = modelsProject(files);
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false }, progress: false });
    const build = lake.build();
    build.catch(() => undefined);
    // The first model's compiled SQL: the build is under way, with 79 models to go.
    const first = path.join(p.root, 'compiled', 'marts', 'm000.sql');
    while (!fs.existsSync(first)) await sleep(5);
    await lake.close();
    const error = await build.then(() => undefined, (e: unknown) => e);
    expect(error, 'the build stopped instead of running its 79 other models').toBeInstanceOf(ClosedError);
    expect(fs.existsSync(path.join(p.root, 'analytics.duckdb')), 'nothing published').toBe(false);
    const again = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    try {
      expect((await again.runs())[0]).toMatchObject({ kind: 'build', status: 'failed', error: expect.stringMatching(/closed/) });
      expect((await again.build()).status).toBe('success');
      expect(await again.query('select x from marts.m079')).toEqual([{ x: 79 }]);
    } finally {
      await again.close();
    }
  }, 60_000);
});

/** A lake building a model that runs for minutes, resolved once the model's statement is about to run, or running. */
async function slowBuild() {
  const { modelsProject } = await import('../helpers/models.js');
  const p = modelsProject({ 'marts/slow.sql': 'select count(*) as n from range(1000000000000) r where r.range % 7 = 3' });
  const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false }, progress: false });
  const build = lake.build({ test: false });
  build.catch(() => undefined);
  // Its compiled SQL written: the model's statement is about to run, or running.
  while (!fs.existsSync(path.join(p.root, 'compiled', 'marts', 'slow.sql'))) await sleep(5);
  return { p, lake, build };
}

describe('close() during a model that runs long', () => {
  it('interrupts it: the build fails with ClosedError, publishes nothing, is recorded failed, and close() returns (was: both hung, past the 30 s wait)', async () => {
    const { p, lake, build } = await slowBuild();
    await lake.close();
    const error = await build.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect(fs.existsSync(path.join(p.root, 'analytics.duckdb')), 'nothing published').toBe(false);
    await expectLastRunClosed(p, 'build');
  }, 30_000);
});

describe('close() with a reason', () => {
  it('the reason is in the error of what it stopped and in its run\'s record (was: only "the lakehouse is closed", whoever closed it and why)', async () => {
    const { p, lake, build } = await slowBuild();
    await lake.close({ reason: 'interrupted by SIGINT' });
    const error = await build.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect((error as Error).message).toBe('lake: the lakehouse is closed (interrupted by SIGINT)');
    // A call after it says it too; a second close() keeps the first reason.
    await lake.close({ reason: 'another' });
    await expect(lake.runs()).rejects.toThrow('lake.runs(): the lakehouse is closed (interrupted by SIGINT)');
    const again = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    try {
      expect((await again.runs())[0]).toMatchObject({ kind: 'build', status: 'failed', error: 'lake: the lakehouse is closed (interrupted by SIGINT)' });
    } finally {
      await again.close();
    }
  }, 30_000);

  it('closes whatever it is handed (a listener\'s signal name, a hook\'s context), taking a reason only when it is a string (was: refused them, leaving the lake open)', async () => {
    for (const argument of ['SIGTERM', { reason: 42 }, { task: {}, signal: new AbortController().signal }, null]) {
      const lake = await Lakehouse.open({ root: path.join(tempDir(), 'data'), log: { console: false } });
      await lake.close(argument as never);
      await expect(lake.runs()).rejects.toThrow(/^lake\.runs\(\): the lakehouse is closed$/);
    }
  });
});

describe('a project with no models yet', () => {
  it('lake.run({ sources }) and lake.build() succeed with nothing to build or test', async () => {
    const { projectLake, prices } = await import('../helpers/models.js');
    const { lake } = await projectLake({});
    const run = await lake.run({ sources: [prices([['a', '1', 1]])] });
    expect(run.extract?.status).toBe('success');
    expect(run.status).toBe('success');
    const build = await lake.build();
    expect(build).toMatchObject({ status: 'success', models: [], tests: [] });
  });
});

describe('close() during data tests', () => {
  /** A project of one table and 80 tests that fail. */
  async function eightyFailingTests() {
    const { modelsProject } = await import('../helpers/models.js');
    const checks = Array.from({ length: 80 }, (_, i) => `      - expression: { expression: "x < ${i}" }`).join('\n');
    return modelsProject({ 'marts/t.sql': 'select range as x from range(100)', 'marts/_t.yml': `version: 2\nmodels:\n  - name: t\n    tests:\n${checks}\n` });
  }

  /** Runs `operation` on a lake that closes itself at the first failing test's warning (its console log), with 79 tests to go; returns what it settled with. */
  async function closedAtFirstFailingTest(p: { root: string; models: string }, operation: (lake: Lakehouse) => Promise<unknown>): Promise<unknown> {
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: true, file: false, level: 'warn' }, progress: false });
    const write = process.stderr.write;
    let closing: Promise<void> | undefined;
    process.stderr.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
      if (/test .* fail/.test(String(chunk))) {
        closing ??= lake.close();
        return true; // not echoed: the 80 warnings are expected
      }
      return (write as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
    } as typeof process.stderr.write;
    try {
      const settled = await operation(lake).then(
        (r) => `resolved with ${JSON.stringify(r).slice(0, 200)}`,
        (e: unknown) => e,
      );
      expect(closing, 'a test failed and closed the lake').toBeDefined();
      await closing;
      return settled;
    } finally {
      process.stderr.write = write;
      await lake.close();
    }
  }

  it('lake.test() stops at its next test: the test run is recorded failed (was: it ran all 80 tests while close() waited, and recorded them partial)', async () => {
    const p = await eightyFailingTests();
    const built = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false }, progress: false });
    await built.build({ test: false });
    await built.close();
    const error = await closedAtFirstFailingTest(p, (lake) => lake.test());
    expect(error, 'the test run stopped instead of running its other tests').toBeInstanceOf(ClosedError);
    await expectLastRunClosed(p, 'test');
  }, 60_000);

  it("a build stops at its next test, publishing nothing, recorded failed (was: it ran all 80 tests while close() waited, then published)", async () => {
    const p = await eightyFailingTests();
    const error = await closedAtFirstFailingTest(p, (lake) => lake.build());
    expect(error, 'the build stopped instead of running its other tests').toBeInstanceOf(ClosedError);
    expect(fs.existsSync(path.join(p.root, 'analytics.duckdb')), 'nothing published').toBe(false);
    await expectLastRunClosed(p, 'build');
  }, 60_000);
});

describe('close() during a statement that runs long', () => {
  const endless = 'select count(*) as n from range(1000000000000) r where r.range % 7 = 3';

  it('lake.query fails as closed at once and close() returns (was: close() waited 30 s, then hung closing the connection under the statement)', async () => {
    const root = path.join(tempDir(), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    expect(await lake.query('select 1 as one')).toEqual([{ one: 1 }]);
    const query = lake.query(endless).then(
      (rows) => `resolved with ${JSON.stringify(rows)}`,
      (e: unknown) => e,
    );
    await lake.close();
    const error = await query;
    expect(error).toBeInstanceOf(ClosedError);
    expect(String((error as Error).message)).toMatch(/lake\.query\(\)/);
  }, 20_000);

  it('lake.exportTable fails as closed, its partial file removed, and close() returns (was: close() waited 30 s, then hung)', async () => {
    const { projectLake } = await import('../helpers/models.js');
    const { lake, root } = await projectLake({ 'staging/v.sql': `{{ config(materialized='view') }}\n${endless}` });
    expect((await lake.build()).status).toBe('success');
    const to = path.join(path.dirname(root), 'out', 'v.csv');
    const exported = lake.exportTable('staging.v', { format: 'csv', to }).then(
      (r) => `resolved with ${JSON.stringify(r)}`,
      (e: unknown) => e,
    );
    // Its COPY under way: the file it writes is open in the lake's temp folder.
    const tmp = path.join(root, '.tmp');
    const copying = () => fs.readdirSync(tmp, { recursive: true }).some((f) => String(f).includes('export-'));
    while (!copying()) await sleep(5);
    await lake.close();
    const error = await exported;
    expect(error).toBeInstanceOf(ClosedError);
    expect(String((error as Error).message)).toMatch(/lake\.exportTable\(\)/);
    expect(fs.existsSync(to)).toBe(false);
    expect(fs.readdirSync(path.join(root, '.tmp'))).toEqual([]);
  }, 20_000);
});

describe('close() during lake.report()', () => {
  it('stops it at its next section with ClosedError, writing no page and no temp file (was: close() hung on its long query; then, interrupted, it wrote a page of failed sections)', async () => {
    const { modelsProject } = await import('../helpers/models.js');
    // Its prices section reads this view, whose query does not end.
    const p = modelsProject({
      'marts/fct_prices_daily.sql': "{{ config(materialized='view') }}\nselect 's' as store, 'k' as sku_id, current_date as price_date, r.range::double as price from range(1000000000000) r where r.range % 7 = 3",
    });
    const built = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false }, progress: false });
    await built.build({ test: false });
    await built.close();
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: true, file: false, level: 'debug' }, progress: false });
    // The first section's chart drawn (its debug line on the console log): close there, with the prices section to go.
    const write = process.stderr.write;
    let closing: Promise<void> | undefined;
    process.stderr.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
      if (/report chart:/.test(String(chunk))) closing ??= lake.close();
      return true; // the lake's console log is not echoed
    } as typeof process.stderr.write;
    let error: unknown;
    try {
      error = await lake.report().then(
        (r) => `resolved with ${JSON.stringify(r)}`,
        (e: unknown) => e,
      );
      expect(closing, 'the first chart was drawn and closed the lake').toBeDefined();
      await closing;
    } finally {
      process.stderr.write = write;
      await lake.close();
    }
    expect(error).toBeInstanceOf(ClosedError);
    expect(String((error as Error).message)).toMatch(/lake\.report\(\)/);
    expect(fs.existsSync(path.join(p.root, 'report.html')), 'no page written').toBe(false);
    expect(fs.readdirSync(p.root).filter((f) => f.includes('tmp') && f !== '.tmp')).toEqual([]);
    expect(fs.readdirSync(path.join(p.root, '.tmp'))).toEqual([]);
  }, 30_000);
});

describe('close() during a compaction', () => {
  it('interrupts its merge: the compaction fails with ClosedError, is recorded failed, switches nothing and leaves no output (was: close() waited for its whole COPY)', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const { scanBronze } = await import('../../src/transform/source-relation.js');
    const root = path.join(tempDir(), 'data');
    // Two files of 1.5M rows of incompressible text in one partition: merging them takes seconds.
    const partition = path.join(root, 'bronze', 'big', 'rows', 'year=2026', 'month=01', 'day=01');
    fs.mkdirSync(partition, { recursive: true });
    const originals = ['20260101T000000000Z-aaaaaa', '20260102T000000000Z-bbbbbb'].map((run) => path.join(partition, `${run}-1.parquet`));
    const perFile = 1_500_000;
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      for (const [k, file] of originals.entries()) {
        await c.run(`COPY (SELECT range AS i, md5(range::VARCHAR) AS s FROM range(${k * perFile}, ${(k + 1) * perFile})) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
      }
    } finally {
      c.closeSync();
      db.closeSync();
    }
    const lake = await Lakehouse.open({ root, log: { console: false } });
    const compaction = lake.compact({ source: 'big', dataset: 'rows', targetFileMb: 1024 }).then(
      (r) => `resolved with ${JSON.stringify(r)}`,
      (e: unknown) => e,
    );
    // Its COPY under way: the merged file it writes is open in the lake's temp folder.
    const tmp = path.join(root, '.tmp');
    const copying = () => fs.readdirSync(tmp, { recursive: true }).some((f) => String(f).endsWith('g1.parquet'));
    while (!copying()) await sleep(5);
    const closeStarted = performance.now();
    await lake.close();
    const closeMillis = performance.now() - closeStarted;
    const error = await compaction;
    expect(error).toBeInstanceOf(ClosedError);
    expect(String((error as Error).message)).toMatch(/lake\.compact\(\)/);
    // Its COPY was interrupted: a close() that waited for the whole merge (~4 s here, longer under
    // load) stops it at its next step instead, and the cause is that step's ClosedError. A duration
    // cannot tell the two apart on a loaded machine; the bound kept is close()'s documented wait.
    expect(String((error as Error).cause)).toMatch(/INTERRUPT Error: Interrupted!/);
    expect(closeMillis).toBeLessThan(30_000);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.readdirSync(partition).sort()).toEqual(originals.map((f) => path.basename(f)));
    const [run] = await metricsRows(root, `select kind, status, error from runs`);
    expect(run).toMatchObject({ kind: 'compact', status: 'failed', error: expect.stringMatching(/closed/) });
    expect(await metricsRows(root, `select path from bronze_files where removed_at is not null`)).toEqual([]);
    // A new open reads the original files, every row once.
    const again = await Lakehouse.open({ root, log: { console: false } });
    try {
      const files = scanBronze(root, 'big', 'rows', await again.metrics.bronzeVisibility()).files;
      expect(files).toEqual(originals);
      const list = files.map((f) => `'${f}'`).join(', ');
      expect(await again.query(`select count(*) as n, count(distinct i) as d from read_parquet([${list}])`)).toEqual([{ n: 2 * perFile, d: 2 * perFile }]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
