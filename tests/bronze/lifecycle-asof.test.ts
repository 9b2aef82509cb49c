import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, Lakehouse, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';
import { tempDir, registerCleanup } from '../helpers/temp-lake.js';

const at = new Date('2026-03-05T15:00:00Z');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `shop/items` with the given schema and rows. */
function items(schema: z.ZodObject<z.ZodRawShape>, rows: Record<string, unknown>[]) {
  return defineSource({ source: 'shop', dataset: 'items', schema, extract: () => [rows] });
}

describe('compaction across schema drift keeps reads as of a run the same', () => {
  it('a model summing a column as of the first run builds the same mart after the files were merged', async () => {
    const { lake, models } = await projectLake({
      'marts/first_total.sql': `{{ config(materialized='table') }}
select sum(price) as total, count(*) as n from {{ source('shop', 'items', as_of_run=var('first_run')) }}`,
    });
    // Run 1 stores price as an integer; a later run's source retypes it to text (a price like "3,50").
    const r1 = await lake.extract(items(z.object({ sku: z.string(), price: z.number().int() }), [{ sku: 'a', price: 2 }, { sku: 'b', price: 3 }]), { extractedAt: at });
    const r2 = await lake.extract(items(z.object({ sku: z.string(), price: z.string() }), [{ sku: 'c', price: '3,50' }]), { extractedAt: at });
    expect([r1.status, r2.status]).toEqual(['success', 'success']);
    const vars = { first_run: r1.runId };

    const before = await lake.build({ vars });
    expect(before.status).toBe('success');
    expect(await lake.query('select total, n from marts.first_total')).toEqual([{ total: 5, n: 2 }]);
    const asOfBefore = await lake.bronze<{ sku: string; price: unknown }>('shop/items', { asOfRun: r1.runId });
    expect(asOfBefore.map((r) => r.price)).toEqual([2, 3]);

    const c = await lake.compact({ source: 'shop', dataset: 'items' });
    expect(c.status).toBe('success');

    // README: "Rows, _run_id and _extracted_at are kept, so marts built after it are the same";
    // reading as of run 1 must give run 1's rows as they were, not retyped by a later run's files.
    const asOfAfter = await lake.bronze<{ sku: string; price: unknown }>('shop/items', { asOfRun: r1.runId });
    expect(asOfAfter.map((r) => r.price)).toEqual([2, 3]);
    const after = await lake.build({ vars });
    expect(after.models.find((m) => m.name === 'marts.first_total')?.error).toBeUndefined();
    expect(after.status).toBe('success');
    expect(await lake.query('select total, n from marts.first_total')).toEqual([{ total: 5, n: 2 }]);
  });
});

describe('an empty source as of an early run', () => {
  it('has the columns and types the dataset had then, not those a later run declared', async () => {
    const { lake } = await projectLake({
      'marts/first_items.sql': `{{ config(materialized='table') }}
select * from {{ source('shop', 'items', as_of_run=var('first_run')) }}`,
    });
    // Run 1 extracts no row (its columns are recorded); run 2 retypes price and adds a column.
    const r1 = await lake.extract(items(z.object({ sku: z.string(), price: z.number().int() }), []), { extractedAt: at });
    const r2 = await lake.extract(items(z.object({ sku: z.string(), price: z.string(), name: z.string() }), [{ sku: 'c', price: '3,50', name: 'C' }]), { extractedAt: at });
    expect([r1.status, r2.status]).toEqual(['success', 'success']);
    const b = await lake.build({ vars: { first_run: r1.runId } });
    expect(b.models.find((m) => m.name === 'marts.first_items')?.status).toBe('success');
    const cols = await lake.query(`select column_name as c, data_type as t from information_schema.columns where table_schema = 'marts' and table_name = 'first_items' and column_name in ('sku', 'price', 'name') order by c`);
    expect(cols).toEqual([{ c: 'price', t: 'BIGINT' }, { c: 'sku', t: 'VARCHAR' }]);
    // As of now, the latest columns.
    const b2 = await lake.build({ vars: { first_run: r2.runId } });
    expect(b2.status).toBe('success');
    const now = await lake.query(`select column_name as c, data_type as t from information_schema.columns where table_schema = 'marts' and table_name = 'first_items' and column_name in ('sku', 'price', 'name') order by c`);
    expect(now).toEqual([{ c: 'name', t: 'VARCHAR' }, { c: 'price', t: 'VARCHAR' }, { c: 'sku', t: 'VARCHAR' }]);
  });

  it('as of a run before the dataset\'s first has only the bookkeeping and partition columns', async () => {
    const { lake } = await projectLake({
      'marts/before_items.sql': `{{ config(materialized='table') }}
select * from {{ source('shop', 'items', as_of_run=var('before_run')) }}`,
    });
    const before = await lake.extract(defineSource({ source: 'shop', dataset: 'other', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] }), { extractedAt: at });
    const r1 = await lake.extract(items(z.object({ sku: z.string() }), []), { extractedAt: at });
    expect([before.status, r1.status]).toEqual(['success', 'success']);
    const b = await lake.build({ vars: { before_run: before.runId } });
    expect(b.models.find((m) => m.name === 'marts.before_items')?.status).toBe('success');
    const cols = await lake.query(`select column_name as c from information_schema.columns where table_schema = 'marts' and table_name = 'before_items' and column_name = 'sku'`);
    expect(cols).toEqual([]);
  });
});

describe('prune: a dry run reports what the real prune removes', () => {
  it('rows of files the metrics db never recorded (bronze restored from a backup) count in the dry run too', async () => {
    // A lake extracted on one machine; bronze copied to a new machine whose metrics db is fresh.
    const first = tempDir();
    const lake1 = await Lakehouse.open({ root: path.join(first, 'data'), models: path.join(first, 'models'), log: { console: false } });
    await lake1.extract(items(z.object({ sku: z.string(), price: z.number() }), [{ sku: 'a', price: 1 }, { sku: 'b', price: 2 }, { sku: 'c', price: 3 }]), {
      extractedAt: new Date('2026-01-10T15:00:00Z'),
    });
    await lake1.close();
    const second = tempDir();
    fs.cpSync(path.join(first, 'data', 'bronze'), path.join(second, 'data', 'bronze'), { recursive: true });
    fs.mkdirSync(path.join(second, 'models'));
    const lake = await Lakehouse.open({ root: path.join(second, 'data'), models: path.join(second, 'models'), log: { console: false } });
    registerCleanup(() => lake.close());
    expect(await lake.bronze('shop/items')).toHaveLength(3);

    const dry = await lake.prune({ source: 'shop', dataset: 'items', olderThan: '2026-02-01', dryRun: true });
    const real = await lake.prune({ source: 'shop', dataset: 'items', olderThan: '2026-02-01' });
    expect(real).toMatchObject({ files: 1, rows: 3 });
    expect({ files: dry.files, rows: dry.rows, bytes: dry.bytes, partitions: dry.partitions }).toEqual({ files: real.files, rows: real.rows, bytes: real.bytes, partitions: real.partitions });
  });
});

describe('as_of_run: a model pinned to a past run', () => {
  it('is up-to-date after a later extract adds files it does not read', async () => {
    const { lake } = await projectLake({
      'marts/pinned.sql': `{{ config(materialized='table') }}
select count(*) as n from {{ source('shop', 'items', as_of_run=var('first_run')) }}`,
    });
    const schema = z.object({ sku: z.string(), price: z.number() });
    const r1 = await lake.extract(items(schema, [{ sku: 'a', price: 1 }]), { extractedAt: at });
    const vars = { first_run: r1.runId };
    const b1 = await lake.build({ vars });
    expect(b1.models.find((m) => m.name === 'marts.pinned')?.status).toBe('success');
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'marts', 'pinned.sql'), 'utf8');

    await lake.extract(items(schema, [{ sku: 'b', price: 2 }]), { extractedAt: at });
    const b2 = await lake.build({ vars });
    // Same compiled SQL (the later run's file is not listed), same files read, same result.
    expect(fs.readFileSync(path.join(lake.paths.compiled, 'marts', 'pinned.sql'), 'utf8')).toBe(compiled);
    expect(await lake.query('select n from marts.pinned')).toEqual([{ n: 1 }]);
    // README: "a model whose compiled SQL, config, upstream versions, bronze files and seed contents did not change is up-to-date".
    expect(b2.models.find((m) => m.name === 'marts.pinned')?.status).toBe('up-to-date');
  });
});

/** A child running lake.run() whose source commits [1, 2, 3] and then hangs (to be SIGKILLed). */
const CHILD = `
import fs from 'node:fs';
import path from 'node:path';
import { Lakehouse, defineSource, z } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, models] = process.argv.slice(2);
const lake = await Lakehouse.open({ root, models, log: { console: false }, progress: false, limits: { flushRows: 3 } });
const src = defineSource({
  source: 'shop', dataset: 'items', schema: z.object({ id: z.number().int() }),
  async *extract() {
    yield [{ id: 1 }, { id: 2 }, { id: 3 }];
    // Wait until that batch is committed (its file is in bronze), then hang with the run open.
    const dir = path.join(root, 'bronze', 'shop', 'items');
    for (;;) {
      const files = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.parquet')) : [];
      if (files.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    process.stdout.write('committed\\n');
    await new Promise(() => undefined);
  },
});
await lake.run({ sources: [src] });
`;

describe('as of a lake.run() pipeline run (its id is made before its extract makes its own)', () => {
  const ids = (values: number[]) =>
    defineSource({ source: 'shop', dataset: 'items', schema: z.object({ id: z.number().int() }), extract: () => [values.map((id) => ({ id }))] });

  it('lake.bronze(…, { asOfRun }) with the pipeline\'s run id includes the rows its extract committed', async () => {
    const { lake } = await projectLake({});
    const first = await lake.run({ sources: [ids([1, 2, 3])] });
    expect(first.extract!.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    const second = await lake.run({ sources: [ids([4, 5])] });
    expect(second.extract!.status).toBe('success');
    const asOfFirst = await lake.bronze<{ id: number }>('shop/items', { asOfRun: first.runId });
    expect(asOfFirst.map((r) => r.id).sort()).toEqual([1, 2, 3]);
    const asOfSecond = await lake.bronze<{ id: number }>('shop/items', { asOfRun: second.runId });
    expect(asOfSecond.map((r) => r.id).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('a model reading source(…, as_of_run=) the pipeline\'s run id reads its extract\'s rows', async () => {
    const { lake } = await projectLake({
      'marts/pinned.sql': `{{ config(materialized='table') }}
select count(*) as n from {{ source('shop', 'items', as_of_run=var('pinned_run', '')) }}`,
    });
    const first = await lake.run({ sources: [ids([1, 2, 3])] });
    await lake.run({ sources: [ids([4, 5])] });
    const b = await lake.build({ vars: { pinned_run: first.runId } });
    expect(b.models.find((m) => m.name === 'marts.pinned')?.status).toBe('success');
    expect(await lake.query('select n from marts.pinned')).toEqual([{ n: 3 }]);
  });

  it('a pipeline that died after its extract committed rows: as of its id reads those rows, and its record counts them', async () => {
    const dir = tempDir();
    const root = path.join(dir, 'data');
    const models = path.join(dir, 'models');
    fs.mkdirSync(models, { recursive: true });
    const script = path.join(dir, 'child-pipeline.mts');
    fs.writeFileSync(script, CHILD);
    const child = spawn(process.execPath, ['--import', 'tsx', script, root, models], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never committed: ${stderr}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('committed')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`child exited: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      const runs = await lake.runs({ limit: 10 });
      const pipeline = runs.find((r) => r.kind === 'run');
      const extract = runs.find((r) => r.kind === 'extract');
      expect(pipeline?.status).toBe('abandoned');
      expect(extract?.status).toBe('abandoned');
      // The abandoned pipeline counts what its extract committed.
      expect(pipeline?.rows).toBe(3);
      // The extract's committed batch is kept and visible.
      expect((await lake.bronze<{ id: number }>('shop/items')).map((r) => r.id).sort()).toEqual([1, 2, 3]);
      // As of the extract's own id: its rows.
      expect((await lake.bronze<{ id: number }>('shop/items', { asOfRun: extract!.runId })).map((r) => r.id).sort()).toEqual([1, 2, 3]);
      // As of the pipeline's id, which stands for the extract it ran: the same rows.
      expect((await lake.bronze<{ id: number }>('shop/items', { asOfRun: pipeline!.runId })).map((r) => r.id).sort()).toEqual([1, 2, 3]);
    } finally {
      await lake.close();
    }
  }, 90_000);
});

describe('compaction of files whose name does not say their run', () => {
  it('a file renamed by a copy (part-0.parquet) merged with a later run: as of its rows\' run it is still read, as before the merge', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'models'));
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), models: path.join(dir, 'models'), log: { console: false }, retainSupersededMinutes: 0 });
    registerCleanup(() => lake.close());
    const schema = z.object({ sku: z.string(), price: z.number() });
    const r1 = await lake.extract(items(schema, [{ sku: 'a', price: 1 }]), { extractedAt: at });
    // A tool that copied bronze named the file its own way: its rows still carry their _run_id.
    const day = path.join(lake.paths.root, 'bronze', 'shop', 'items', 'year=2026', 'month=03', 'day=05');
    fs.renameSync(path.join(day, `${r1.runId}-1.parquet`), path.join(day, 'part-0.parquet'));
    await lake.extract(items(schema, [{ sku: 'b', price: 2 }]), { extractedAt: at });
    const before = await lake.bronze<{ sku: string }>('shop/items', { asOfRun: r1.runId });
    expect(before.map((r) => r.sku)).toEqual(['a']);

    const c = await lake.compact({ source: 'shop', dataset: 'items' });
    expect(c).toMatchObject({ filesIn: 2, filesOut: 1, rows: 2 });
    expect((await lake.bronze<{ sku: string }>('shop/items', { asOfRun: r1.runId })).map((r) => r.sku)).toEqual(['a']);
    expect(await lake.bronze('shop/items')).toHaveLength(2);
  });
});
