import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, defineSource, z, type Lakehouse } from '../../src/index.js';
import { isCompactionOutput } from '../../src/transform/source-relation.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { BUSY_WAIT, child, IMPORT_LAKEHOUSE } from '../helpers/mid-batch.js';
import { listFiles, tempDir, tempLake } from '../helpers/temp-lake.js';

/** `shop/prices` partitioned by store: one file per store per extract. */
const source = (stores: string[]) =>
  defineSource({
    source: 'shop',
    dataset: 'prices',
    partitionBy: ['store'],
    schema: z.object({ store: z.string(), sku: z.string() }),
    extract: () => [stores.map((store) => ({ store, sku: '1' }))],
  });

/** Two extracts of both stores: 2 small files in each store's partition. */
async function twoRuns(lake: Lakehouse, stores = ['São José', 'Sao Jose']): Promise<void> {
  for (let i = 0; i < 2; i++) await lake.extract(source(stores), { extractedAt: new Date('2026-03-05T15:00:00Z') });
}

describe('compact: partition paths written with the value as stored', () => {
  const ENCODED = 'store=S%C3%A3o%20Jos%C3%A9';

  it('"store=São José" compacts that partition only (its folder is percent-encoded), as { store: "São José" } does', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    // DuckDB percent-encodes partition values in folder names (the space too).
    expect(fs.readdirSync(path.join(lake.paths.root, 'bronze', 'shop', 'prices')).sort()).toEqual([ENCODED, 'store=Sao%20Jose']);
    const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: ['store=São José'] });
    expect(r).toMatchObject({ partitions: 1, filesIn: 2, filesOut: 1, rows: 2 });
    expect(r.warnings).toBeUndefined();
    // The other store is untouched, and its own path still matches it.
    const other = await lake.compact({ source: 'shop', dataset: 'prices', partitions: ['store=Sao Jose'] });
    expect(other).toMatchObject({ partitions: 1, filesIn: 2, filesOut: 1 });
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });

  it('matches the folder name as written, a deeper prefix, and a value in another Unicode normal form', async () => {
    for (const filter of [ENCODED, `${ENCODED}/year=2026`, 'store=São José/year=2026/month=03', 'store=São José'.normalize('NFD')]) {
      const lake = await tempLake();
      await twoRuns(lake);
      const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [filter] });
      expect(r, filter).toMatchObject({ partitions: 1, filesIn: 2 });
      expect(await lake.bronze('shop/prices', { limit: 10 })).toHaveLength(4);
    }
  });

  it('{ store: "São José" } matches the partition with the value in another Unicode normal form, as the path form does', async () => {
    const nfd = 'São José'.normalize('NFD');
    expect(nfd).not.toBe('São José');
    const lake = await tempLake();
    await twoRuns(lake);
    const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [{ store: nfd }] });
    expect(r.warnings).toBeUndefined();
    expect(r).toMatchObject({ partitions: 1, filesIn: 2, filesOut: 1 });
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });

  it('still refuses traversal and multi-segment values, changing nothing', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    for (const bad of ['store=../../x', 'store=a/b', 'store=São José/../..']) {
      await expect(lake.compact({ source: 'shop', dataset: 'prices', partitions: [bad] }), bad).rejects.toThrow(/partitions\[0\]/);
      await expect(lake.compact({ source: 'shop', dataset: 'prices', partitions: [bad] }), bad).rejects.toBeInstanceOf(ConfigError);
    }
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });

  it('a value holding ".." (v1..2, a range, a version) is a partition path like any other: that partition compacts', async () => {
    const lake = await tempLake();
    await twoRuns(lake, ['v1..2', '..']);
    for (const filter of ['store=v1..2', 'store=..']) {
      const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [filter] });
      expect(r, filter).toMatchObject({ partitions: 1, filesIn: 2, filesOut: 1 });
      expect(r.warnings, filter).toBeUndefined();
    }
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });

  it('a filter that matches no partition compacts nothing and says so in warnings', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: ['store=Nowhere', 'store=São José'] });
    expect(r).toMatchObject({ partitions: 1, filesIn: 2 });
    expect(r.warnings).toEqual(['lake.compact: partitions[0] "store=Nowhere" matches no partition of shop/prices']);
    // Matching partitions with nothing left to merge is no warning.
    const again = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [{ store: 'São José' }] });
    expect(again).toMatchObject({ filesIn: 0 });
    expect(again.warnings).toBeUndefined();
  });
});

describe('compact: an empty partitions list', () => {
  it('compacts no partition (a list of none, as a filter matching none), says so in warnings, and leaves every file as it was', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const dir = path.join(lake.paths.root, 'bronze', 'shop', 'prices');
    const before = fs.readdirSync(dir, { recursive: true }).map(String).sort();
    const r = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [] });
    expect(r).toMatchObject({ status: 'success', partitions: 0, filesIn: 0, filesOut: 0, rows: 0 });
    expect(r.warnings).toEqual(['lake.compact: option "partitions" is an empty list: no partition was compacted (leave it out to compact every partition)']);
    expect(fs.readdirSync(dir, { recursive: true }).map(String).sort()).toEqual(before);
  });
});

describe('prune: partitions reported', () => {
  it('names them by their values (store=São José/…), as compact\'s filters and the README do, not by their percent-encoded folders', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: '2026-03-06', dryRun: true });
    expect(r.files).toBe(4);
    expect(r.partitions).toEqual(['store=Sao Jose/year=2026/month=03/day=05', 'store=São José/year=2026/month=03/day=05']);
    // Each name reported is a filter compact accepts for that partition.
    const c = await lake.compact({ source: 'shop', dataset: 'prices', partitions: [r.partitions[1]!] });
    expect(c).toMatchObject({ partitions: 1, filesIn: 2 });
    expect(c.warnings).toBeUndefined();
  });

  it('a value holding "/" is named as its folder is written (decoded, it would read as two segments), still a filter compact takes', async () => {
    const lake = await tempLake();
    await twoRuns(lake, ['a/b']);
    const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: '2026-03-06', dryRun: true });
    expect(r.partitions).toEqual(['store=a%2Fb/year=2026/month=03/day=05']);
    const c = await lake.compact({ source: 'shop', dataset: 'prices', partitions: r.partitions });
    expect(c).toMatchObject({ partitions: 1, filesIn: 2 });
  });
});

describe('purge and an extract committing into the same partition', () => {
  it('a partition folder removed (emptied by another process\'s purge) between the commit\'s mkdir and its rename: the batch still commits', async () => {
    const lake = await tempLake();
    const rename = fs.renameSync;
    let removed = 0;
    // Another process's purge deletes the last removed file of this partition and its folder, now
    // empty, at the moment between the commit making the folder and renaming the file into it.
    const spy = vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      const dir = path.dirname(String(to));
      if (removed === 0 && dir.includes(`${path.sep}bronze${path.sep}shop${path.sep}prices${path.sep}`) && String(to).endsWith('.parquet') && fs.readdirSync(dir).length === 0) {
        removed += 1;
        fs.rmdirSync(dir);
      }
      return rename(from, to);
    });
    try {
      const r = await lake.extract(source(['a']), { extractedAt: new Date('2026-03-05T15:00:00Z') });
      expect(removed).toBe(1);
      expect(r.status).toBe('success');
    } finally {
      spy.mockRestore();
    }
    expect(await lake.bronze('shop/prices')).toHaveLength(1);
  });
});

describe('prune: olderThan dates', () => {
  it('refuses an impossible calendar date (rolled over by Date.parse) naming "olderThan"', async () => {
    const lake = await tempLake();
    for (const bad of ['2026-02-30', '2026-02-29', '2026-04-31', '2026-00-10', '2026-01-00', '99999999999999d']) {
      const attempt = lake.prune({ source: 'shop', dataset: 'prices', olderThan: bad, dryRun: true });
      await expect(attempt, bad).rejects.toThrow(/lake\.prune: option "olderThan"/);
      await expect(attempt, bad).rejects.toBeInstanceOf(ConfigError);
    }
  });

  it('accepts real dates, leap days included', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    for (const good of ['2024-02-29', '2026-02-28', '2026-12-31']) {
      const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: good, dryRun: true });
      expect(r.cutoff).toBe(good);
    }
  });
});

describe('prune: olderThan outside four-digit years', () => {
  it('a Date before the year 1000 prunes nothing (its cutoff is a 4-digit date, compared with the partitions\' dates as text)', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const r = await lake.prune({ source: 'shop', dataset: 'prices', olderThan: new Date('0900-06-01T12:00:00Z') });
    expect(r).toMatchObject({ cutoff: '0900-06-01', files: 0, partitions: [] });
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });

  it('an age or a Date giving a year past 9999 or before 1 is refused naming "olderThan", pruning nothing', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    for (const bad of ['1000000d', new Date('+012026-01-01T00:00:00Z'), new Date(Date.UTC(-5, 0, 1))]) {
      const attempt = lake.prune({ source: 'shop', dataset: 'prices', olderThan: bad });
      await expect(attempt, String(bad)).rejects.toThrow(/lake\.prune: option "olderThan"/);
      await expect(attempt, String(bad)).rejects.toBeInstanceOf(ConfigError);
    }
    expect(await lake.bronze('shop/prices')).toHaveLength(4);
  });
});

describe('compact and prune: refused options', () => {
  it('record no run (a typo is no failed compact or prune in the history), as refused extract options do', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const before = await lake.runs();
    await expect(lake.compact({ source: 'shop', dataset: 'prices', targetFileMb: 0 })).rejects.toThrow(/option "targetFileMb"/);
    await expect(lake.compact({ source: 'Shop', dataset: 'prices' })).rejects.toThrow(/option "source"/);
    await expect(lake.prune({ source: 'shop', dataset: 'prices', olderThan: 'yesterday' })).rejects.toThrow(/option "olderThan"/);
    await expect(lake.prune({ source: 'shop', dataset: 'prices', olderThan: '1d', dryRun: 'yes' as never })).rejects.toThrow(/option "dryRun"/);
    expect(await lake.runs()).toEqual(before);
  });

  it('refuse a dataset bronze does not hold, naming it and what bronze has, as the CLI does; no run recorded', async () => {
    const lake = await tempLake();
    await twoRuns(lake);
    const before = await lake.runs();
    for (const call of [
      () => lake.compact({ source: 'shop', dataset: 'pricez' }),
      () => lake.prune({ source: 'shop', dataset: 'pricez', olderThan: '365d' }),
      () => lake.prune({ source: 'shopp', dataset: 'prices', olderThan: '365d', dryRun: true }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^lake\.(compact|prune): no bronze dataset "(shop\/pricez|shopp\/prices)"; bronze has: shop\/prices$/);
    }
    expect(await lake.runs()).toEqual(before);
  });
});

describe('compact: schema evolution', () => {
  const norm = (rows: unknown[]) => rows.map((r) => JSON.stringify(r, (_k, v) => (v instanceof Date ? v.toISOString() : v))).sort();

  it('does not merge files whose columns moved into or out of a struct (same names and types, another tree): a read as of the earlier runs sees the columns their rows had', async () => {
    const lake = await tempLake({ retainSupersededMinutes: 0 });
    const v1 = z.object({ id: z.number().int(), a: z.number().int(), s: z.object({ b: z.number().int() }) });
    const v2 = z.object({ id: z.number().int(), b: z.number().int(), s: z.object({ a: z.number().int() }) });
    const runs: string[] = [];
    for (const [schema, row] of [[v1, { id: 1, a: 10, s: { b: 5 } }], [v1, { id: 2, a: 11, s: { b: 6 } }], [v2, { id: 3, b: 12, s: { a: 7 } }], [v2, { id: 4, b: 13, s: { a: 8 } }]] as const) {
      const src = defineSource({ source: 'shop', dataset: 'items', schema: schema as z.ZodType<Record<string, unknown>>, extract: () => [[row as Record<string, unknown>]] });
      runs.push((await lake.extract(src, { extractedAt: new Date('2026-03-05T15:00:00Z') })).runId);
    }
    const asOf = async () => Promise.all(runs.map(async (r) => norm(await lake.bronze('shop/items', { asOfRun: r }))));
    const before = await asOf();
    expect(JSON.parse(before[0]![0]!)).toMatchObject({ id: 1, a: 10, s: { b: 5 } });
    expect(JSON.parse(before[0]![0]!)).not.toHaveProperty('b');
    const r = await lake.compact({ source: 'shop', dataset: 'items' });
    // Two schemas of two runs each: two merges, not one.
    expect(r).toMatchObject({ filesIn: 4, filesOut: 2, rows: 4 });
    expect(await asOf()).toEqual(before);
  });
});

describe('readers while removed files are deleted', () => {
  it('a partition folder deleted (emptied by another process\'s purge) while lake.bronze lists the dataset is skipped, not an ENOENT', async () => {
    const lake = await tempLake();
    const src = defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }), extract: () => [[{ sku: '1' }]] });
    await lake.extract(src, { extractedAt: new Date('2026-03-04T15:00:00Z') });
    await lake.extract(src, { extractedAt: new Date('2026-03-05T15:00:00Z') });
    // Pruned: hidden at once, left on disk for the retention.
    expect(await lake.prune({ source: 'shop', dataset: 'prices', olderThan: '2026-03-05' })).toMatchObject({ files: 1 });
    const gone = path.join(lake.paths.root, 'bronze', 'shop', 'prices', 'year=2026', 'month=03', 'day=04');
    expect(fs.existsSync(gone)).toBe(true);
    // Another process's purge deletes the removed file and its empty folder after the reader
    // listed month=03 and before it lists day=04.
    const readdir = fs.readdirSync;
    const spy = vi.spyOn(fs, 'readdirSync').mockImplementation(((dir: fs.PathLike, options?: unknown) => {
      if (String(dir) === gone) fs.rmSync(gone, { recursive: true, force: true });
      return (readdir as (d: fs.PathLike, o?: unknown) => unknown)(dir, options);
    }) as typeof fs.readdirSync);
    try {
      expect(await lake.bronze('shop/prices')).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a reader lease (state/readers/) of another host', () => {
  /** A lease as holdBronzeRead writes it, by a process of another host that began `hoursAgo`. */
  const foreignLease = (root: string, hoursAgo: number): string => {
    const file = path.join(root, 'state', 'readers', `4242-0123456789ab.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ host: 'another-host.example', pid: 4242, procStart: '12345', startedAt: new Date(Date.now() - hoursAgo * 3_600_000).toISOString() }));
    return file;
  };

  it('keeps the files removed since it began while younger than otherHostAbandonHours, and counts as dead (removed) once older, as a run of that host does', async () => {
    for (const [hoursAgo, deleted, leaseKept] of [
      [2, 0, true],
      [30, 2, false],
    ] as const) {
      const lake = await tempLake({ retainSupersededMinutes: 0, otherHostAbandonHours: 24 });
      await twoRuns(lake, ['a']);
      const lease = foreignLease(lake.paths.root, hoursAgo);
      const r = await lake.compact({ source: 'shop', dataset: 'prices' });
      expect(r, `lease ${hoursAgo} h old`).toMatchObject({ filesIn: 2, filesOut: 1, deleted });
      expect(fs.existsSync(lease), `lease ${hoursAgo} h old`).toBe(leaseKept);
      expect(await lake.bronze('shop/prices')).toHaveLength(2);
    }
  });

  it('a readers folder that cannot be read keeps every removed file (its readers are unknown), and the compaction still succeeds (was: read as no reader at all)', async () => {
    const lake = await tempLake({ retainSupersededMinutes: 0 });
    await twoRuns(lake, ['a']);
    // Not a folder (ENOTDIR): as one this user may not list (EACCES), which a root test cannot make.
    fs.mkdirSync(path.join(lake.paths.root, 'state'), { recursive: true });
    fs.writeFileSync(path.join(lake.paths.root, 'state', 'readers'), 'not a folder');
    const r = await lake.compact({ source: 'shop', dataset: 'prices' });
    expect(r).toMatchObject({ status: 'success', filesIn: 2, filesOut: 1, deleted: 0 });
    fs.rmSync(path.join(lake.paths.root, 'state', 'readers'));
    expect((await lake.compact({ source: 'shop', dataset: 'prices' })).deleted).toBe(2);
  });
});

/**
 * Compacts `shop/prices` (metrics lock timeout 300 ms), waiting (BUSY_WAIT, until the file `go`
 * exists) once its first output is renamed into bronze, before the switch; then closes the lake,
 * whatever the compaction did.
 */
const COMPACTOR = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
${BUSY_WAIT}
const [root, go] = process.argv.slice(2);
const rename = fs.renameSync;
fs.renameSync = function (from, to) {
  const out = rename.call(this, from, to);
  if (!waited && String(to).includes('/bronze/') && String(to).includes('-c')) waitForGo(go);
  return out;
} as typeof fs.renameSync;
const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 300 });
try {
  await lake.compact({ source: 'shop', dataset: 'prices' });
  fs.writeSync(1, JSON.stringify({ compacted: true }) + '\\n');
} catch (error) {
  fs.writeSync(1, JSON.stringify({ compacted: false, error: (error as Error).message }) + '\\n');
} finally {
  await lake.close();
}
`;

describe('compact: a switch that fails, and a rollback that fails too', () => {
  it('leaves its outputs for the next open to remove, not hidden in bronze for good', async () => {
    const base = tempDir('duckhouse-compact-');
    const root = path.join(base, 'data');
    const lake = await tempLake({ root });
    await twoRuns(lake, ['a']);
    await lake.close();
    const go = path.join(base, 'go');
    const compactor = child(base, 'compactor', COMPACTOR, [root, go], 'WAITING');
    await compactor.reached;
    // The metrics file held by another process from now on: the switch and the rollback's read both time out.
    const holder = await holdDuckDbFile(path.join(root, 'metrics', 'runs.duckdb'));
    fs.writeFileSync(go, '');
    expect(await compactor.exited, compactor.stderr()).toBe(0);
    expect(compactor.result()).toMatchObject({ compacted: false });
    await holder.release();

    const next = await tempLake({ root });
    const outputs = listFiles(path.join(root, 'bronze')).filter((f) => isCompactionOutput(f));
    expect(outputs, 'outputs never switched in').toEqual([]);
    expect(await next.query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${root}/bronze/shop/prices/**/*.parquet')`)).toEqual([{ n: 2 }]);
  });
});
