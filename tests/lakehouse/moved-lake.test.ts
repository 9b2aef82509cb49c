/**
 * A lake folder moved or copied with no crash involved (rsync to a bigger disk, the old copy kept
 * or not), then opened at its new root: everything reads the new folder only, before any build,
 * and the old copy is never read, changed or deleted.
 *
 * The old copy is changed after the copy (every price + 1000 in its Parquet files), so a read of
 * it shows as a price ≥ 1000; a moved lake has no old folder left, so a read of it fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { readOnlyQuery, treeDigest, withMemoryQuery } from '../helpers/lake-checks.js';
import { modelsProject, prices } from '../helpers/models.js';
import { holdLock } from '../helpers/lock-holder.js';
import { listFiles, registerCleanup } from '../helpers/temp-lake.js';

const PROJECT = {
  'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
  'marts/m.sql': `{{ config(materialized='table') }} select sku, price from {{ ref('stg_prices') }}`,
  'marts/m.yml': `version: 2
models:
  - name: m
    tests:
      - expression: { expression: "price < 1000" }
`,
};

/** Every price of the Parquet files under `dir` (those with prices) + 1000 (tmp + rename): what a read of the old copy shows. */
async function poison(dir: string): Promise<void> {
  const files = listFiles(dir).filter((f) => f.endsWith('.parquet')).map((f) => path.join(dir, f));
  await withMemoryQuery(async (q) => {
    for (const f of files) {
      const columns = await q(`DESCRIBE SELECT * FROM read_parquet('${f}')`);
      if (!columns.some((c) => c.column_name === 'price')) continue;
      const tmp = `${f}.poison`;
      await q(`COPY (SELECT * REPLACE (price + 1000 AS price) FROM read_parquet('${f}')) TO '${tmp}' (FORMAT parquet)`);
      fs.renameSync(tmp, f);
    }
  });
}

/** A built lake at `<dir>/data` moved (renameSync) or copied (cpSync, the old copy then changed) to `<dir>/elsewhere/data`. */
async function relocated(how: 'moved' | 'copied'): Promise<{ old: string; root: string; models: string; oldDigest?: Map<string, string> }> {
  const p = modelsProject(PROJECT);
  const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
  try {
    await lake.extract([prices([['a', '1', 2]])]);
    await lake.extract([prices([['a', '2', 3]])]);
    const built = await lake.build();
    expect(built.status).toBe('success');
  } finally {
    await lake.close();
  }
  const root = path.join(p.dir, 'elsewhere', 'data');
  fs.mkdirSync(path.dirname(root));
  if (how === 'moved') {
    fs.renameSync(p.root, root);
    return { old: p.root, root, models: p.models };
  }
  fs.cpSync(p.root, root, { recursive: true });
  await poison(path.join(p.root, 'bronze'));
  await poison(path.join(p.root, 'warehouse'));
  return { old: p.root, root, models: p.models, oldDigest: treeDigest(p.root) };
}

async function openAt(root: string, models: string): Promise<Lakehouse> {
  const lake = await Lakehouse.open({ root, models, log: { console: false }, retainSupersededMinutes: 0 });
  registerCleanup(() => lake.close());
  return lake;
}

/** The old folder is gone (moved) or byte for byte as it was left (copied). */
function expectOldUntouched(r: { old: string; oldDigest?: Map<string, string> }): void {
  if (r.oldDigest) expect(treeDigest(r.old), 'the old copy, byte for byte').toEqual(r.oldDigest);
  else expect(fs.existsSync(r.old), 'the old root made again').toBe(false);
}

/** A build publishes the catalog under the new root, its readers then read it there, and the old folder stays as it was. */
async function buildPublishesUnderNewRoot(lake: Lakehouse, r: { old: string; oldDigest?: Map<string, string> }): Promise<void> {
  expect((await lake.build()).status).toBe('success');
  expect(await lake.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
  await lake.close();
  expectOldUntouched(r);
}

const PRICES = [
  { sku: '1', price: 2 },
  { sku: '2', price: 3 },
];

describe('a lake moved or copied, opened at its new root before any build', () => {
  for (const how of ['moved', 'copied'] as const) {
    it(`lake.query reads the new folder's tables and bronze (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      expect(await lake.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
      expect(await lake.query('select sku, price from staging.stg_prices order by sku')).toEqual(PRICES);
      await lake.close();
      expectOldUntouched(r);
    });

    it(`lake.test reads the new folder (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      const tests = await lake.test();
      expect(tests.find((t) => t.kind === 'expression')).toMatchObject({ model: 'marts.m', status: 'pass', failures: 0 });
      expect(tests.filter((t) => t.status !== 'pass')).toEqual([]);
      await lake.close();
      expectOldUntouched(r);
    });

    it(`the report's catalog snapshot reads the new folder, and lake.report writes its page (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      const snapshot = await lake.catalogSnapshot();
      try {
        expect(await snapshot.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
      } finally {
        await snapshot.close();
      }
      const report = await lake.report();
      expect(report.path.startsWith(r.root + path.sep)).toBe(true);
      await lake.close();
      expectOldUntouched(r);
    });

    it(`lake.exportTable exports the new folder's rows (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      const out = await lake.exportTable('marts.m', { format: 'csv' });
      expect(fs.readFileSync(out.path, 'utf8').trim().split('\n').sort()).toEqual(['1,2.0', '2,3.0', 'sku,price']);
      await lake.close();
      expectOldUntouched(r);
    });

    it(`lake.bronze reads the new folder's bronze (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      const rows = await lake.bronze<{ sku: string; price: number }>('shop/prices');
      expect(rows.map((x) => ({ sku: x.sku, price: x.price })).sort((a, b) => a.sku.localeCompare(b.sku))).toEqual(PRICES);
      await lake.close();
      expectOldUntouched(r);
    });

    it(`analytics.duckdb read by another DuckDB client after the open names only the new folder (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      await lake.close();
      const file = path.join(r.root, 'analytics.duckdb');
      expect(await readOnlyQuery(file, 'select sku, price from marts.m order by sku')).toEqual(PRICES);
      expect(await readOnlyQuery(file, 'select sku, price from staging.stg_prices order by sku')).toEqual(PRICES);
      const named = await readOnlyQuery(
        file,
        `select sql as text from duckdb_views() where not internal
         union all select files from _duckhouse.models union all select coalesce(sql, '') from _duckhouse.models
         union all select path from _duckhouse.garbage`,
      );
      expect(named.map((x) => String(x.text)).filter((t) => t.includes(r.old + path.sep))).toEqual([]);
      // The compiled SQL a user may run by hand names the new folder too.
      const compiled = listFiles(path.join(r.root, 'compiled')).map((f) => fs.readFileSync(path.join(r.root, 'compiled', f), 'utf8'));
      expect(compiled.length).toBeGreaterThan(0);
      expect(compiled.filter((t) => t.includes(r.old + path.sep))).toEqual([]);
      expectOldUntouched(r);
    });

    it(`compact and a build at the new root change nothing in the old folder (${how})`, async () => {
      const r = await relocated(how);
      const lake = await openAt(r.root, r.models);
      const compacted = await lake.compact({ source: 'shop', dataset: 'prices' });
      expect(compacted.status).toBe('success');
      expect((await lake.build()).status).toBe('success');
      expect(await lake.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
      await lake.close();
      expectOldUntouched(r);
    });
  }
});

describe('a moved catalog that cannot be republished, or that recorded no root', () => {
  it('a table whose files are not in the copy: the open republishes nothing, the catalog readers refuse with CATALOG_MOVED naming both roots, and a build publishes it under the new root', async () => {
    const r = await relocated('copied');
    const table = listFiles(path.join(r.root, 'warehouse', 'marts', 'm')).filter((f) => f.endsWith('.parquet'));
    expect(table).toHaveLength(1);
    fs.rmSync(path.join(r.root, 'warehouse', 'marts', 'm', table[0]!));
    const catalog = fs.readFileSync(path.join(r.root, 'analytics.duckdb'));
    const lake = await openAt(r.root, r.models);
    expect(fs.readFileSync(path.join(r.root, 'analytics.duckdb')).equals(catalog), 'the catalog as it was').toBe(true);
    for (const read of [() => lake.query('select sku, price from marts.m'), () => lake.test(), () => lake.exportTable('marts.m', { format: 'csv' }), () => lake.report()]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CATALOG_MOVED' });
      expect((error as Error).message).toContain(r.old);
      expect((error as Error).message).toContain(r.root);
      expect((error as Error).message).toContain('lake.build()');
    }
    await buildPublishesUnderNewRoot(lake, r);
  });

  it('a build (another process) holding the build lock: the open waits at most lockTimeoutMillis (1 s at most), republishes nothing, and the catalog readers refuse with CATALOG_MOVED', async () => {
    const r = await relocated('copied');
    const { holder, kill } = holdLock(path.join(r.root, 'analytics.duckdb.lock'));
    const lake = await Lakehouse.open({ root: r.root, models: r.models, log: { console: false }, lockTimeoutMillis: 200 });
    registerCleanup(() => lake.close());
    const error = await lake.query('select sku, price from marts.m').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CATALOG_MOVED' });
    expect((error as Error).message).toContain(r.old);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    kill();
    await exited;
    // The holder gone, a build publishes it under the new root and the readers read it.
    await buildPublishesUnderNewRoot(lake, r);
  });

  it('a catalog that cannot be read: the lake still opens and extracts, and its catalog readers refuse with CATALOG_MOVED', async () => {
    const r = await relocated('copied');
    fs.writeFileSync(path.join(r.root, 'analytics.duckdb'), 'not a DuckDB file');
    const lake = await openAt(r.root, r.models);
    expect((await lake.extract([prices([['a', '3', 4]])])).status).toBe('success');
    const error = await lake.query('select sku, price from marts.m').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CATALOG_MOVED' });
    expect((error as Error).message).toContain(r.old);
    await lake.close();
    expectOldUntouched(r);
  });

  it('a catalog published by an earlier version (no root recorded beside it) is republished too, its root read from its paths', async () => {
    const r = await relocated('copied');
    fs.rmSync(path.join(r.root, 'analytics.duckdb.root'));
    const lake = await openAt(r.root, r.models);
    expect(await lake.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
    expect(await lake.query('select sku, price from staging.stg_prices order by sku')).toEqual(PRICES);
    await lake.close();
    expect(fs.readFileSync(path.join(r.root, 'analytics.duckdb.root'), 'utf8')).toBe(r.root);
    expectOldUntouched(r);
  });

  it('a catalog of views only, published by an earlier version: its root is read from the bronze files its views name', async () => {
    const p = modelsProject({ 'staging/stg_prices.sql': PROJECT['staging/stg_prices.sql'] });
    const first = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    try {
      await first.extract([prices([['a', '1', 2], ['a', '2', 3]])]);
      expect((await first.build()).status).toBe('success');
    } finally {
      await first.close();
    }
    const root = path.join(p.dir, 'elsewhere', 'data');
    fs.mkdirSync(path.dirname(root));
    fs.cpSync(p.root, root, { recursive: true });
    fs.rmSync(path.join(root, 'analytics.duckdb.root'));
    await poison(path.join(p.root, 'bronze'));
    const lake = await openAt(root, p.models);
    expect(await lake.query('select sku, price from staging.stg_prices order by sku')).toEqual(PRICES);
    await lake.close();
    expect(await readOnlyQuery(path.join(root, 'analytics.duckdb'), 'select sku, price from staging.stg_prices order by sku')).toEqual(PRICES);
  });

  it('a lake not moved is opened without touching its catalog', async () => {
    const r = await relocated('moved');
    const first = await openAt(r.root, r.models);
    await first.close();
    const before = fs.statSync(path.join(r.root, 'analytics.duckdb'));
    const again = await openAt(r.root, r.models);
    expect(await again.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
    await again.close();
    const after = fs.statSync(path.join(r.root, 'analytics.duckdb'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('a lake opened through a symbolic link to its folder is not a move: its catalog is not republished, and it reads the same rows', async () => {
    const p = modelsProject(PROJECT);
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    try {
      await lake.extract([prices([['a', '1', 2]])]);
      await lake.extract([prices([['a', '2', 3]])]);
      expect((await lake.build()).status).toBe('success');
    } finally {
      await lake.close();
    }
    const link = path.join(p.dir, 'link');
    fs.symlinkSync(p.root, link, 'dir');
    const before = fs.statSync(path.join(p.root, 'analytics.duckdb'));
    // Its build lock held by another process: a republish would have to wait for it, and then refuse.
    const { holder, kill } = holdLock(path.join(p.root, 'analytics.duckdb.lock'));
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      const linked = await openAt(link, p.models);
      expect(await linked.query('select sku, price from marts.m order by sku')).toEqual(PRICES);
      await linked.close();
    } finally {
      kill();
      await exited;
    }
    const after = fs.statSync(path.join(p.root, 'analytics.duckdb'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });
});
