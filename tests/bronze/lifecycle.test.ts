import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ClosedError, ConfigError, Lakehouse, defineSource, z } from '../../src/index.js';
import { metricsRows } from '../helpers/metrics-read.js';
import { listFiles } from '../helpers/temp-lake.js';
import { projectLake } from '../helpers/models.js';
import { spawnHelper } from '../helpers/child.js';
import { holdLock } from '../helpers/lock-holder.js';

const schema = z.object({ store: z.string(), sku: z.string(), price: z.number() });

/** `shop/prices`, partitioned by store: one file per store per run. */
function prices(run: number, stores = ['a', 'b'], perStore = 5) {
  return defineSource({
    source: 'shop',
    dataset: 'prices',
    schema,
    partitionBy: ['store'],
    extract: () => [stores.flatMap((store) => Array.from({ length: perStore }, (_, i) => ({ store, sku: `s${i}`, price: run * 100 + i })))],
  });
}

const MODELS = {
  'staging/stg_prices.sql': `select store, sku, price, _run_id, _extracted_at from {{ source('shop', 'prices') }}`,
  'marts/latest.sql': `{{ config(materialized='table') }}
select store, sku, arg_max(price, _run_id) as price, count(*) as seen from {{ ref('stg_prices') }} group by all`,
  'marts/as_of_second.sql': `{{ config(materialized='table') }}
select count(*) as n, max(price) as top from {{ source('shop', 'prices', as_of_run=var('second_run')) }}`,
};


const bronzeParquet = (root: string) => listFiles(path.join(root, 'bronze')).filter((f) => f.endsWith('.parquet'));
/** A target size (MB) that two of the current files fit in, and three do not. */
const twoFilesMb = (root: string) => (2.5 * Math.max(...bronzeParquet(root).map((f) => fs.statSync(path.join(root, 'bronze', f)).size))) / 1024 / 1024;
const sortRows = (rows: Record<string, unknown>[]) =>
  rows.map((r) => JSON.stringify(r, (_k, v) => (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : v))).sort();

/** Six runs of two stores: 12 small files in 2 partitions; returns the run ids. */
async function sixRuns(lake: Lakehouse): Promise<string[]> {
  const ids: string[] = [];
  for (let run = 1; run <= 6; run += 1) ids.push((await lake.extract(prices(run), { extractedAt: new Date('2026-03-05T15:00:00Z') })).runId);
  return ids;
}

describe('bronze lifecycle: compaction', () => {
  it('merges each partition into one file, keeps every row with its _run_id and _extracted_at, and a build after it gives the same marts', async () => {
    const { lake, root } = await projectLake(MODELS, { retainSupersededMinutes: 0 });
    const runs = await sixRuns(lake);
    const build1 = await lake.build({ vars: { second_run: runs[1] } });
    expect(build1.status).toBe('success');
    const before = sortRows(await lake.bronze('shop/prices'));
    const martBefore = await lake.query('select * from marts.latest order by store, sku');
    const asOfBefore = await lake.query('select * from marts.as_of_second');
    expect(asOfBefore).toEqual([{ n: 20, top: 204 }]);
    expect(bronzeParquet(root)).toHaveLength(12);

    const r = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(r).toMatchObject({ status: 'success', source: 'shop', dataset: 'prices', partitions: 2, filesIn: 12, filesOut: 2, rows: 60 });
    expect(r.bytesOut).toBeGreaterThan(0);
    expect(r.bytesOut).toBeLessThan(r.bytesIn);
    // Same rows, bookkeeping columns included.
    expect(sortRows(await lake.bronze('shop/prices'))).toEqual(before);
    // The published staging view still names the old files: they stay until a build replaces it.
    expect(bronzeParquet(root)).toHaveLength(14);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 60 }]);

    const build2 = await lake.build({ vars: { second_run: runs[1] } });
    expect(build2.status).toBe('success');
    expect(await lake.query('select * from marts.latest order by store, sku')).toEqual(martBefore);
    expect(await lake.query('select * from marts.as_of_second')).toEqual(asOfBefore);
    // The new catalog names only the compacted files: the old ones are deleted (retention 0 here).
    const left = bronzeParquet(root);
    expect(left).toHaveLength(2);
    expect(left.every((f) => /-c\d{8}T\d{9}Z[0-9a-f]{6}-\d+\.parquet$/.test(f))).toBe(true);
    expect(left.map((f) => path.dirname(f)).sort()).toEqual([
      path.join('shop', 'prices', 'store=a', 'year=2026', 'month=03', 'day=05'),
      path.join('shop', 'prices', 'store=b', 'year=2026', 'month=03', 'day=05'),
    ]);

    const [run] = await metricsRows(root, `SELECT kind, status, rows, files FROM runs WHERE run_id = '${r.runId}'`);
    expect(run).toEqual({ kind: 'compact', status: 'success', rows: 60, files: 2 });
    const files = await metricsRows(root, `SELECT count(*) FILTER (WHERE removed_by = '${r.runId}') AS removed, count(*) FILTER (WHERE run_id = '${r.runId}' AND removed_at IS NULL) AS added FROM bronze_files`);
    expect(files).toEqual([{ removed: 12, added: 2 }]);
  });

  it('keeps the old files for the retention period, hidden from readers', async () => {
    const { lake, root } = await projectLake(MODELS);
    await sixRuns(lake);
    await lake.compact({ source: 'shop', dataset: 'prices' });
    await lake.build({ vars: { second_run: 'x' } });
    expect(bronzeParquet(root)).toHaveLength(14); // retention: 60 minutes by default
    expect(await lake.bronze('shop/prices')).toHaveLength(60);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 60 }]);
  });

  it('compacts only the partitions asked for, and twice in a row changes nothing the second time', async () => {
    const { lake, root } = await projectLake(MODELS);
    await sixRuns(lake);
    const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: ['store=a'] });
    expect(r).toMatchObject({ partitions: 1, filesIn: 6, filesOut: 1 });
    const byObject = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [{ store: 'b' }] });
    expect(byObject).toMatchObject({ partitions: 1, filesIn: 6, filesOut: 1 });
    const again = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(again).toMatchObject({ partitions: 0, filesIn: 0, filesOut: 0, rows: 0 });
    expect(await lake.bronze('shop/prices')).toHaveLength(60);
    expect(bronzeParquet(root)).toHaveLength(14);
  });

  it('respects the target size: files are grouped up to targetFileMb', async () => {
    const { lake, root } = await projectLake(MODELS);
    await sixRuns(lake);
    const tiny = await lake.compact({ source: 'shop', dataset: 'prices', targetFileMb: twoFilesMb(root) });
    // Six files per partition, two per group: three outputs per partition.
    expect(tiny).toMatchObject({ partitions: 2, filesIn: 12, filesOut: 6 });
    expect(await lake.bronze('shop/prices')).toHaveLength(60);
  });

  it('refuses bad options with the field named, and changes nothing', async () => {
    const { lake, root } = await projectLake(MODELS);
    await sixRuns(lake);
    const cases: [unknown, RegExp][] = [
      [{ source: 'shop' }, /option "dataset"/],
      [{ source: '../x', dataset: 'prices' }, /option "source"/],
      [{ source: 'shop', dataset: 'prices', targetFileMb: 0 }, /option "targetFileMb"/],
      [{ source: 'shop', dataset: 'prices', partitions: ['color=red'] }, /partitions\[0\].*"color=red"/],
      [{ source: 'shop', dataset: 'prices', partitions: ['store=a/../..'] }, /partitions\[0\]/],
      [{ source: 'shop', dataset: 'prices', partitions: [{ colour: 'x' }] }, /"colour" is not a partition key/],
      [{ source: 'shop', dataset: 'prices', partitions: 'store=a' }, /option "partitions"/],
    ];
    for (const [options, message] of cases) {
      await expect(lake.compact(options as never)).rejects.toThrow(message);
    }
    await expect(lake.compact({ source: 'shop', dataset: 'prices', targetFileMb: -1 })).rejects.toBeInstanceOf(ConfigError);
    expect(bronzeParquet(root)).toHaveLength(12);
    expect(await lake.bronze('shop/prices')).toHaveLength(60);
  });

  it('a reader in another process sees the old set or the new set, never both, never neither', async () => {
    const { lake, root } = await projectLake(MODELS);
    for (let run = 1; run <= 2; run += 1) {
      await sixRuns(lake);
      const reader = spawnHelper('child-bronze-reader.ts', [root, 'shop/prices', '60000']);
      await reader.waitFor((l) => l === 'ready');
      const r = await lake.compact({ source: 'shop', dataset: 'prices' });
      expect(r.filesOut).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      reader.process.kill('SIGTERM');
      const { stderr } = await reader.exited;
      const report = JSON.parse(reader.lines.find((l) => l.startsWith('{')) ?? 'null') as { reads: number; counts: number[]; errors: string[] } | null;
      expect(report, stderr).not.toBeNull();
      expect(report!.errors).toEqual([]);
      expect(report!.reads).toBeGreaterThan(0);
      expect(new Set(report!.counts)).toEqual(new Set([60 * run]));
    }
  });

  it('a compaction killed at random moments leaves no visible output and loses nothing; the next open cleans up', async () => {
    const { lake, root, models } = await projectLake(MODELS);
    await sixRuns(lake);
    await lake.close();
    for (let trial = 0; trial < 3; trial += 1) {
      const child = spawnHelper('child-compact.ts', [root, models, String(twoFilesMb(root))]);
      await child.waitFor((l) => l === 'compacting');
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 400));
      child.process.kill('SIGKILL');
      await child.exited;
      const { Lakehouse } = await import('../../src/index.js');
      const again = await Lakehouse.open({ root, models, log: { console: false } });
      try {
        expect(await again.bronze('shop/prices')).toHaveLength(60);
        const visible = await again.bronze<{ _run_id: string; sku: string; store: string }>('shop/prices');
        expect(new Set(visible.map((r) => `${r._run_id}/${r.store}/${r.sku}`)).size).toBe(60);
        // Outputs the metrics db never switched in are gone after the open. Those a trial switched in
        // may since be superseded by a later trial's compaction: recorded removed and kept on disk
        // for the retention window, and not read (they hold the same rows: the 60 distinct keys above).
        const switched = await metricsRows(root, `SELECT path FROM bronze_files WHERE batch_no = 0`);
        const recorded = new Set(switched.map((r) => String(r.path)));
        for (const f of bronzeParquet(root)) {
          if (/-c\d{8}T/.test(f)) expect(recorded.has(path.join('bronze', f)), f).toBe(true);
        }
        expect(listFiles(path.join(root, '.tmp')).filter((f) => f.endsWith('.parquet'))).toEqual([]);
      } finally {
        await again.close();
      }
    }
  });

  it('recovery of a compaction killed after its switch keeps its outputs once superseded: for the retention window and the published views reading them', async () => {
    // Default retention (60 minutes): removed files must stay on disk.
    const { lake, root, models } = await projectLake({ 'staging/stg_prices.sql': MODELS['staging/stg_prices.sql'] });
    const at = new Date('2026-03-05T15:00:00Z');
    for (let run = 1; run <= 3; run += 1) await lake.extract(prices(run), { extractedAt: at });
    const c1 = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(c1.filesOut).toBe(2);
    const outputs1 = bronzeParquet(root).filter((f) => f.includes(`-c${c1.runId.replace('-', '')}-`)).map((f) => path.join(root, 'bronze', f));
    expect(outputs1).toHaveLength(2);
    // The published staging view now names compaction 1's outputs.
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 30 }]);

    // A later run and a later compaction supersede them: removed in bronze_files, kept on disk.
    await lake.extract(prices(4), { extractedAt: at });
    const c2 = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(c2.filesIn).toBe(4);
    for (const f of outputs1) expect(fs.existsSync(f)).toBe(true);
    const removed = await metricsRows(root, `SELECT count(*) AS n FROM bronze_files WHERE removed_by = '${c2.runId}' AND path LIKE '%-c${c1.runId.replace('-', '')}-%'`);
    expect(removed).toEqual([{ n: 2 }]);

    // What compaction 1 leaves if killed between its switch and the deletion of its manifest: the
    // manifest (naming outputs that WERE switched in) in the temp folder of a dead process.
    const dead = path.join(root, '.tmp', 'p4194305-1');
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
    fs.writeFileSync(path.join(dead, `compact-${c1.runId}.json`), JSON.stringify({ kind: 'compact', runId: c1.runId, root, outputs: outputs1 }));

    const { Lakehouse } = await import('../../src/index.js');
    const other = await Lakehouse.open({ root, models, log: { console: false } });
    await other.close();
    expect(fs.existsSync(dead)).toBe(false);
    for (const f of outputs1) expect(fs.existsSync(f), f).toBe(true);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 30 }]);
  });

  it('keeps removed files a replaced catalog names for the retention from its replacement: a reader that opened it just before a build still reads them', async () => {
    // README (Bronze lifecycle): removed files are kept for readers of older catalogs, as
    // superseded warehouse files are, from the moment the published catalog stops naming them.
    const retainMinutes = 0.05; // 3 s
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const { lake, root } = await projectLake({ 'staging/stg_prices.sql': MODELS['staging/stg_prices.sql'] }, { retainSupersededMinutes: retainMinutes });
    for (let run = 1; run <= 3; run++) await lake.extract(prices(run), { extractedAt: new Date('2026-03-05T15:00:00Z') });
    expect((await lake.build()).status).toBe('success');
    // Compaction removes the 6 small files (kept on disk: the published staging view names them).
    expect((await lake.compact({ source: 'shop', dataset: 'prices' })).filesIn).toBe(6);
    // Later than the retention after the compaction, a reader (another DuckDB client) opens the catalog.
    await sleep(retainMinutes * 60_000 + 500);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const reader = await DuckDBInstance.create(path.join(root, 'analytics.duckdb'), { access_mode: 'READ_ONLY' });
    const c = await reader.connect();
    try {
      const count = async (): Promise<number> => Number((await c.runAndReadAll('select count(*) as n from staging.stg_prices')).getRowObjectsJS()[0]!.n);
      expect(await count()).toBe(30);
      // A moment later another build publishes (a new extract: the staging view changes).
      await lake.extract(prices(4), { extractedAt: new Date('2026-03-05T16:00:00Z') });
      expect((await lake.build()).status).toBe('success');
      // The reader's catalog was superseded just now: it still answers, its files on disk.
      expect(bronzeParquet(root)).toHaveLength(6 + 2 + 2);
      expect(await count()).toBe(30);
    } finally {
      c.closeSync();
      reader.closeSync();
    }
    // Once the retention has passed since that publish too, the next build deletes them.
    await sleep(retainMinutes * 60_000 + 500);
    expect((await lake.build()).status).toBe('success');
    expect(bronzeParquet(root)).toHaveLength(2 + 2);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 40 }]);
  }, 60_000);
});

describe('bronze lifecycle: deletion and builds in flight', () => {
  it('with retainSupersededMinutes 0, files a build listed before the switch are not deleted until that build has ended: its published view still reads', async () => {
    const { lake, root } = await projectLake({ 'staging/stg_prices.sql': MODELS['staging/stg_prices.sql'] }, { retainSupersededMinutes: 0, lockTimeoutMillis: 60_000 });
    for (let run = 1; run <= 3; run++) await lake.extract(prices(run), { extractedAt: new Date('2026-03-05T15:00:00Z') });
    // Another process holds the catalog's build lock: the build records its start and lists the
    // bronze files (in one metrics transaction), then waits for the lock.
    const { kill } = holdLock(`${path.join(root, 'analytics.duckdb')}.lock`);
    const build = lake.build();
    await vi.waitFor(async () => {
      const running = await metricsRows(root, `SELECT count(*) AS n FROM runs WHERE kind = 'build' AND status = 'running'`);
      expect(running).toEqual([{ n: 1 }]);
    }, { timeout: 30_000, interval: 50 });
    // Meanwhile a compaction switches the 6 small files out; no published catalog names them.
    const c = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(c.filesIn).toBe(6);
    expect(c.deleted, 'the build in flight listed them').toBe(0);
    expect(bronzeParquet(root)).toHaveLength(6 + 2);
    kill();
    expect((await build).status).toBe('success');
    // The view the build published names the files it listed: they are still there.
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 30 }]);
    // Once a later build names the compacted files instead, they go.
    expect((await lake.build()).status).toBe('success');
    expect(bronzeParquet(root)).toHaveLength(2);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 30 }]);
  }, 90_000);
});

describe('bronze lifecycle: reading as of a run', () => {
  it('lake.bronze and source(..., as_of_run) read only what was committed up to that run, before and after compaction', async () => {
    const { lake } = await projectLake(MODELS);
    const runs = await sixRuns(lake);
    const asOf = async (i: number) => (await lake.bronze<{ _run_id: string }>('shop/prices', { asOfRun: runs[i] })).map((r) => r._run_id);
    expect(await asOf(0)).toEqual(Array(10).fill(runs[0]));
    expect((await asOf(2)).sort()).toEqual([...Array(10).fill(runs[0]), ...Array(10).fill(runs[1]), ...Array(10).fill(runs[2])]);
    await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(await asOf(0)).toEqual(Array(10).fill(runs[0]));
    expect(await asOf(2)).toHaveLength(30);
    expect(await lake.bronze('shop/prices', { asOfRun: runs[5] })).toHaveLength(60);
    expect(await lake.bronze('shop/prices', { limit: 7 })).toHaveLength(7);
    const b = await lake.build({ vars: { second_run: runs[2] } });
    expect(b.status).toBe('success');
    expect(await lake.query('select * from marts.as_of_second')).toEqual([{ n: 30, top: 304 }]);
  });

  it('refuses a malformed dataset name or run id, naming it', async () => {
    const { lake } = await projectLake(MODELS);
    await expect(lake.bronze('shop.prices')).rejects.toThrow(/'source\/dataset'.*"shop.prices"/);
    await expect(lake.bronze('shop/prices', { asOfRun: "x' or 1=1 --" })).rejects.toThrow(/option "asOfRun"/);
    await expect(lake.bronze('shop/prices', { limit: -1 })).rejects.toThrow(/option "limit"/);
    // A dataset no extract ever started is no empty one: a misspelt name read as no rows.
    await expect(lake.bronze('shop/never')).rejects.toThrow('lake.bronze: no bronze dataset "shop/never"; bronze has: nothing yet');
  });
});

describe('bronze lifecycle: prune', () => {
  async function threeDays(lake: Lakehouse): Promise<void> {
    for (const day of ['2026-03-01', '2026-03-02', '2026-03-03']) {
      await lake.extract(prices(Number(day.slice(-1))), { extractedAt: new Date(`${day}T15:00:00Z`) });
    }
  }

  it('dry run reports and changes nothing; a real prune hides the old partitions at once and is recorded', async () => {
    const { lake, root } = await projectLake(MODELS, { retainSupersededMinutes: 0 });
    await threeDays(lake);
    const dry = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: '2026-03-03', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, cutoff: '2026-03-03', files: 4, rows: 20 });
    expect(dry.partitions).toEqual(['store=a/year=2026/month=03/day=01', 'store=a/year=2026/month=03/day=02', 'store=b/year=2026/month=03/day=01', 'store=b/year=2026/month=03/day=02']);
    expect(bronzeParquet(root)).toHaveLength(6);
    expect(await lake.bronze('shop/prices')).toHaveLength(30);

    const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: new Date('2026-03-02T12:00:00Z') });
    expect(r).toMatchObject({ dryRun: false, cutoff: '2026-03-02', files: 2, rows: 10, deleted: 2 });
    expect(await lake.bronze('shop/prices')).toHaveLength(20);
    expect(bronzeParquet(root).some((f) => f.includes('day=01'))).toBe(false);
    // Empty partition folders go with their files.
    expect(fs.existsSync(path.join(root, 'bronze', 'shop', 'prices', 'store=a', 'year=2026', 'month=03', 'day=01'))).toBe(false);
    const [run] = await metricsRows(root, `SELECT kind, status, rows FROM runs WHERE run_id = '${r.runId}'`);
    expect(run).toEqual({ kind: 'prune', status: 'success', rows: 10 });
    expect(await metricsRows(root, `SELECT count(*) AS n FROM runs WHERE kind = 'prune'`)).toEqual([{ n: 1 }]);
  });

  it('an age like 365d counts back from today; nothing that young is pruned', async () => {
    const { lake } = await projectLake(MODELS);
    await lake.extract(prices(1));
    const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: '365d' });
    expect(r.files).toBe(0);
    expect(r.cutoff < new Date().toISOString().slice(0, 10)).toBe(true);
    expect(await lake.bronze('shop/prices')).toHaveLength(10);
  });

  it('refuses a bad olderThan, naming the option', async () => {
    const { lake } = await projectLake(MODELS);
    for (const bad of ['yesterday', '2026-13-45', 42, new Date('nope'), '-3d']) {
      await expect(lake.prune({ source: 'shop', dataset: 'prices', olderThan: bad as never })).rejects.toThrow(/option "olderThan"/);
    }
  });
});

describe('bronze lifecycle: lake.close() during a compaction', () => {
  it('stops it at its next partition (was: it merged all 40 while close() waited): its outputs not switched in are removed, every row read once, the run recorded failed, a later compaction does the rest', async () => {
    const { lake, root } = await projectLake({});
    const stores = defineSource({
      source: 'shop',
      dataset: 'stores',
      schema: z.object({ store: z.string(), n: z.number() }),
      partitionBy: ['store'],
      extract: () => [Array.from({ length: 40 }, (_, i) => ({ store: `s${String(i).padStart(2, '0')}`, n: i }))],
    });
    // One extraction instant: extracts on either side of midnight in São Paulo (03:00 UTC) leave
    // one file per day's partition, nothing to merge, and the wait below for ever.
    const extractedAt = new Date('2026-03-05T15:00:00Z');
    await lake.extract(stores, { extractedAt });
    await lake.extract(stores, { extractedAt });
    const compact = lake.compact({ source: 'shop', dataset: 'stores' });
    compact.catch(() => undefined);
    // Its first merged partition written: 39 to go.
    const tmp = path.join(root, '.tmp');
    while (!listFiles(tmp).some((f) => f.endsWith(`${path.sep}g1.parquet`))) await new Promise((r) => setTimeout(r, 5));
    await lake.close();
    const error = await compact.then(() => undefined, (e: unknown) => e);
    expect(error, 'the compaction stopped instead of merging its 39 other partitions').toBeInstanceOf(ClosedError);
    const again = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await again.runs())[0]).toMatchObject({ kind: 'compact', status: 'failed', error: expect.stringMatching(/closed/) });
      expect(await again.bronze('shop/stores').then((rows) => rows.length)).toBe(80);
      const rest = await again.compact({ source: 'shop', dataset: 'stores' });
      expect(rest.filesIn).toBeGreaterThan(0);
      expect(await again.bronze('shop/stores').then((rows) => rows.length)).toBe(80);
    } finally {
      await again.close();
    }
  }, 60_000);
});
