import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { child, repo } from '../helpers/mid-batch.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';
import { projectLake, prices } from '../helpers/models.js';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `n${i}`, price: i % 5 === 0 ? null : i }));
const source = (n: number, schema = z.object({ id: z.number().int(), name: z.string(), price: z.number().nullable() })) =>
  defineSource({ source: 'obs', dataset: 'items', schema, extract: () => [rows(n)] });

describe('observability', () => {
  it('profiles every committed batch: null share, approximate distinct, min and max', async () => {
    const lake = await tempLake();
    const r = await lake.extract([source(100)]);
    const profiles = await lake.metrics.select(`select column_name, column_type, rows, null_share, approx_distinct, min_value, max_value from column_profiles where run_id = $1 order by column_name`, [r.runId]);
    expect(profiles).toEqual([
      { column_name: 'id', column_type: 'BIGINT', rows: 100, null_share: 0, approx_distinct: expect.any(Number), min_value: '0', max_value: '99' },
      { column_name: 'name', column_type: 'VARCHAR', rows: 100, null_share: 0, approx_distinct: expect.any(Number), min_value: 'n0', max_value: 'n99' },
      { column_name: 'price', column_type: 'DOUBLE', rows: 100, null_share: 0.2, approx_distinct: expect.any(Number), min_value: '1.0', max_value: '99.0' },
    ]);
    expect(Math.abs((profiles[0]!.approx_distinct as number) - 100)).toBeLessThanOrEqual(5);
  });

  it('estimates distinct counts of a batch larger than the profile sample: unique columns count every row, low-cardinality ones their values', async () => {
    const lake = await tempLake();
    const n = 60_000;
    const wide = defineSource({
      source: 'obs',
      dataset: 'wide',
      schema: z.object({ id: z.number().int(), pair: z.number().int(), store: z.string(), seen: z.iso.datetime(), tags: z.array(z.string()) }),
      extract: () => [Array.from({ length: n }, (_, i) => ({ id: i, pair: i % (n / 2), store: `s${i % 7}`, seen: new Date(Date.UTC(2026, 0, 1) + (i % 40) * 3_600_000).toISOString(), tags: [`t${i % 3}`] }))],
    });
    const r = await lake.extract([wide]);
    const profiles = await lake.metrics.select(`select column_name, rows, approx_distinct from column_profiles where run_id = $1 order by column_name`, [r.runId]);
    const distinct = Object.fromEntries(profiles.map((p) => [p.column_name, p.approx_distinct]));
    expect(profiles.every((p) => p.rows === n)).toBe(true);
    expect(distinct.id).toBe(n);
    // 30,000 values twice each: the sample sees ~16,700 of them; the estimate scales up from it.
    expect(distinct.pair).toBeGreaterThanOrEqual(20_000);
    expect(distinct.pair).toBeLessThanOrEqual(40_000);
    expect(distinct.store).toBeGreaterThanOrEqual(6);
    expect(distinct.store).toBeLessThanOrEqual(8);
    expect(distinct.seen).toBeGreaterThanOrEqual(36);
    expect(distinct.seen).toBeLessThanOrEqual(44);
    expect(distinct.tags).toBeGreaterThanOrEqual(3);
    expect(distinct.tags).toBeLessThanOrEqual(4);
  });

  it('counts a wide batch (past 50 columns) in one grouping, with the same distinct counts and estimates as a narrow one column by column', async () => {
    const lake = await tempLake();
    const n = 30_000;
    // 4 columns of each kind × 20 = 80 columns; the same 4 kinds alone make a narrow dataset.
    const kinds = {
      id: (i: number) => i,
      store: (i: number) => `s${i % 7}`,
      seen: (i: number) => new Date(Date.UTC(2026, 0, 1) + (i % 40) * 3_600_000).toISOString(),
      tags: (i: number) => (i % 5 === 0 ? null : [`t${i % 3}`]),
    };
    const shape = { id: z.number().int(), store: z.string(), seen: z.iso.datetime(), tags: z.array(z.string()).nullable() };
    const wideShape = Object.fromEntries(Array.from({ length: 20 }, (_, k) => Object.entries(shape).map(([name, type]) => [`${name}_${k}`, type])).flat());
    const narrowRecords = Array.from({ length: n }, (_, i) => Object.fromEntries(Object.entries(kinds).map(([name, f]) => [name, f(i)])));
    const wideRecords = narrowRecords.map((r) => Object.fromEntries(Array.from({ length: 20 }, (_, k) => Object.entries(r).map(([name, v]) => [`${name}_${k}`, v])).flat()));
    const narrow = await lake.extract([defineSource({ source: 'obs', dataset: 'narrow', schema: z.object(shape), extract: () => [narrowRecords] })]);
    const wide = await lake.extract([defineSource({ source: 'obs', dataset: 'wide80', schema: z.object(wideShape), extract: () => [wideRecords] })]);
    expect(wide.sources[0]).toMatchObject({ status: 'success', rows: n });
    const read = async (runId: string) => lake.metrics.select(`select column_name, column_type, rows, null_share, approx_distinct from column_profiles where run_id = $1`, [runId]);
    const narrowBy = new Map((await read(narrow.runId)).map((p) => [p.column_name as string, p]));
    const wideProfiles = await read(wide.runId);
    expect(wideProfiles).toHaveLength(80);
    for (const p of wideProfiles) {
      const base = narrowBy.get(String(p.column_name).replace(/_\d+$/, ''))!;
      expect({ ...p, column_name: base.column_name }).toMatchObject({ column_type: base.column_type, rows: n, null_share: base.null_share });
      // The unique column counts every row, the others their few values, as the narrow path does.
      if (base.column_name === 'id') expect(p.approx_distinct).toBe(n);
      else expect(p.approx_distinct).toBe(base.approx_distinct);
    }
    expect(narrowBy.get('store')!.approx_distinct).toBe(7);
    expect(narrowBy.get('seen')!.approx_distinct).toBe(40);
  });

  it('raises a volume alert under 80% of the trailing average, and resolves it when volume comes back', async () => {
    const lake = await tempLake();
    for (let i = 0; i < 3; i++) await lake.extract([source(100)]);
    const low = await lake.extract([source(50)]);
    expect(low.alerts).toContainEqual(expect.objectContaining({ kind: 'volume', severity: 'warn', subject: 'obs/items' }));
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(1);
    const back = await lake.extract([source(100)]);
    expect(back.alerts!.some((a) => a.kind === 'volume')).toBe(false);
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(0);
    expect((await lake.alerts({ open: false })).filter((a) => a.kind === 'volume' && a.resolvedAt)).toHaveLength(1);
  });

  it('a volume drop that lasts several runs stays one open alert (its message updated), resolved once when volume comes back', async () => {
    const lake = await tempLake();
    for (let i = 0; i < 3; i++) await lake.extract([source(100)]);
    await lake.extract([source(50)]);
    const second = await lake.extract([source(50)]);
    expect(second.alerts).toContainEqual(expect.objectContaining({ kind: 'volume', subject: 'obs/items' }));
    // Observed: two open rows for the one drop, one per low run ("… average 100 …" and "… average 88 …").
    const open = (await lake.alerts()).filter((a) => a.kind === 'volume');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ runId: second.runId, message: expect.stringContaining('average 88 of the last 4') });
    await lake.extract([source(100)]);
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(0);
    expect((await lake.alerts({ open: false })).filter((a) => a.kind === 'volume')).toHaveLength(1);
  });

  it('a failed or partial run of the source leaves its volume alert open (it measured no volume); the next successful run judges it', async () => {
    const lake = await tempLake();
    for (let i = 0; i < 3; i++) await lake.extract([source(100)]);
    await lake.extract([source(10)]);
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(1);
    const down = defineSource({ source: 'obs', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => { throw new Error('API down'); } });
    expect((await lake.extract([down])).status).toBe('failed');
    // Observed: resolved by the failed run, as if volume had come back.
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(1);
    const cut = defineSource({ source: 'obs', dataset: 'items', schema: z.object({ id: z.number() }), extract: async function* () { yield [{ id: 1 }]; throw new Error('cut short'); } });
    expect((await lake.extract([cut])).status).toBe('partial');
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(1);
    await lake.extract([source(100)]);
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toHaveLength(0);
    expect((await lake.alerts({ open: false })).filter((a) => a.kind === 'volume' && a.resolvedAt)).toHaveLength(1);
  });

  it('measures volume against the last successful runs however many failures came between (after an outage of 20 runs, a tiny first run back is a drop)', async () => {
    const lake = await tempLake();
    await lake.extract([source(100)]);
    const down = defineSource({ source: 'obs', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => { throw new Error('API down'); } });
    for (let i = 0; i < 20; i++) expect((await lake.extract([down])).status).toBe('failed');
    const back = await lake.extract([source(10)]);
    expect(back.sources[0]).toMatchObject({ status: 'success', rows: 10 });
    // Observed: no volume alert: the average was taken over the last 20 results only, all failures.
    expect(back.alerts).toContainEqual(expect.objectContaining({ kind: 'volume', subject: 'obs/items', message: expect.stringContaining('average 100 of the last 1 successful runs') }));
  }, 60_000);

  it('records schema drift (added, removed, retyped) and alerts on it', async () => {
    const lake = await tempLake();
    await lake.extract([source(10)]);
    // Records of the new shape (string ids): the drift is of a run that brings it into bronze.
    const reshaped = defineSource({
      source: 'obs',
      dataset: 'items',
      schema: z.object({ id: z.string(), name: z.string(), brand: z.string().optional() }),
      extract: () => [rows(10).map((r) => ({ id: String(r.id), name: r.name }))],
    });
    const next = await lake.extract([reshaped]);
    expect(next.sources[0]).toMatchObject({ status: 'success', rows: 10 });
    expect(next.sources[0]!.schemaChanges).toEqual(
      expect.arrayContaining([
        { column: 'brand', change: 'added', oldType: null, newType: 'VARCHAR' },
        { column: 'price', change: 'removed', oldType: 'DOUBLE', newType: null },
        { column: 'id', change: 'retyped', oldType: 'BIGINT', newType: 'VARCHAR' },
      ]),
    );
    expect(next.alerts).toContainEqual(expect.objectContaining({ kind: 'schema_drift', subject: 'obs/items' }));
    const stored = await lake.metrics.select(`select column_name, change from schema_changes order by column_name`);
    expect(stored).toEqual([
      { column_name: 'brand', change: 'added' },
      { column_name: 'id', change: 'retyped' },
      { column_name: 'price', change: 'removed' },
    ]);
  });

  it('compares the columns with those bronze committed: a run killed before its first commit (its change never alerted) does not hide the change from the next run', async () => {
    const base = tempDir();
    const root = path.join(base, 'data');
    const first = await tempLake({ root });
    await first.extract([source(10)]);
    await first.close();
    // price retyped DOUBLE → VARCHAR; the process is killed while its source waits, before any batch commits.
    const killed = child(
      base,
      'killed-before-commit',
      `import fs from 'node:fs';
import { Lakehouse, defineSource, z } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, go] = process.argv.slice(2);
const lake = await Lakehouse.open({ root, log: { console: false } });
const retyped = defineSource({
  source: 'obs',
  dataset: 'items',
  schema: z.object({ id: z.number().int(), name: z.string(), price: z.string().nullable() }),
  async *extract() {
    fs.writeSync(1, 'EXTRACTING\\n');
    while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 20));
    yield [{ id: 1, name: 'n1', price: '1' }];
  },
});
await lake.extract([retyped]);
await lake.close();
`,
      [root, path.join(base, 'never')],
      'EXTRACTING',
    );
    await killed.reached;
    killed.kill('SIGKILL');
    await killed.exited;

    const lake = await tempLake({ root });
    const retyped = defineSource({
      source: 'obs',
      dataset: 'items',
      schema: z.object({ id: z.number().int(), name: z.string(), price: z.string().nullable() }),
      extract: () => [rows(10).map((r) => ({ ...r, price: r.price === null ? null : String(r.price) }))],
    });
    const next = await lake.extract([retyped]);
    expect(next.sources[0]).toMatchObject({ status: 'success', rows: 10 });
    expect(next.sources[0]!.schemaChanges).toEqual([{ column: 'price', change: 'retyped', oldType: 'DOUBLE', newType: 'VARCHAR' }]);
    expect(next.alerts).toContainEqual(expect.objectContaining({ kind: 'schema_drift', subject: 'obs/items', message: 'price retyped DOUBLE → VARCHAR' }));
  });

  it('a run that committed nothing (it failed, or quarantined every record) records no drift: the run that first commits the new shape records and alerts it, once', async () => {
    const lake = await tempLake();
    await lake.extract([source(10)]);
    const withBrand = z.object({ id: z.number().int(), name: z.string(), price: z.number().nullable(), brand: z.string() });
    const brandAdded = [{ column: 'brand', change: 'added', oldType: null, newType: 'VARCHAR' }];
    const down = defineSource({ source: 'obs', dataset: 'items', schema: withBrand, extract() { throw new Error('HTTP 503'); } });
    // Records without the new column: every one goes to quarantine.
    const rejecting = defineSource({ source: 'obs', dataset: 'items', schema: withBrand, extract: () => [rows(5)] });
    const driftAlerts = (r: { alerts?: { kind: string }[] }) => (r.alerts ?? []).filter((a) => a.kind === 'schema_drift');
    for (const s of [down, rejecting]) {
      const r = await lake.extract([s]);
      expect(r.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
      expect(r.sources[0]!.schemaChanges).toBeUndefined();
      expect(driftAlerts(r)).toEqual([]);
    }
    expect(await lake.metrics.select(`select run_id from schema_changes`)).toEqual([]);

    const landed = await lake.extract([defineSource({ source: 'obs', dataset: 'items', schema: withBrand, extract: () => [rows(5).map((r) => ({ ...r, brand: 'b' }))] })]);
    expect(landed.sources[0]).toMatchObject({ status: 'success', rows: 5, schemaChanges: brandAdded });
    expect(driftAlerts(landed)).toEqual([expect.objectContaining({ subject: 'obs/items', message: 'brand added' })]);
    expect(await lake.metrics.select(`select run_id, column_name, change from schema_changes`)).toEqual([{ run_id: landed.runId, column_name: 'brand', change: 'added' }]);
    expect((await lake.alerts()).filter((a) => a.kind === 'schema_drift').map((a) => a.runId)).toEqual([landed.runId]);
  });

  it('alerts on a failing source, a low success rate and freshness past the window', async () => {
    const lake = await tempLake({ quality: { freshnessWarnHours: 0.0001, freshnessErrorHours: 1 } });
    const failing = defineSource({ source: 'obs', dataset: 'flaky', schema: z.object({ id: z.number() }), extract() { throw new Error('down'); } });
    await lake.extract([source(10)]);
    await new Promise((r) => setTimeout(r, 500));
    const r = await lake.extract([failing]);
    expect(r.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'source_failed', severity: 'error', subject: 'obs/flaky', message: 'down' }),
        expect.objectContaining({ kind: 'freshness', severity: 'warn', subject: 'obs/items' }),
        expect.objectContaining({ kind: 'freshness', subject: 'obs/flaky', message: 'never extracted successfully' }),
      ]),
    );
  });

  it('lake.run surfaces failing tests as alerts and calls onRunFinished with the run', async () => {
    let notified: unknown;
    const { lake } = await projectLake(
      {
        'staging/s.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
        'staging/_s.yml': `version: 2\nmodels:\n  - name: s\n    columns:\n      - name: price\n        tests:\n          - expression: { expression: "price > 0" }\n`,
      },
      { onRunFinished: (run) => void (notified = run) },
    );
    const run = await lake.run({ sources: [prices([['a', '1', -1]])] });
    expect(run.status).toBe('partial');
    expect(run.alerts).toContainEqual(expect.objectContaining({ kind: 'test_failed', severity: 'error' }));
    expect(notified).toMatchObject({ runId: run.runId, status: 'partial' });
    const stored = (await lake.runs()).find((r) => r.runId === run.runId);
    expect(stored).toMatchObject({ runId: run.runId, kind: 'run', status: 'partial' });
  });
  it("an onRunFinished hook that throws leaves the run as it went, with the hook's error in its warnings (redacted)", async () => {
    const { lake } = await projectLake(
      { 'staging/s.sql': `select store, sku, price from {{ source('shop', 'prices') }}` },
      {
        onRunFinished: () => {
          throw new Error('POST https://chat.example.com/hook?access_token=hook-secret-123456 failed: 410 Gone');
        },
      },
    );
    const run = await lake.run({ sources: [prices([['a', '1', 2]])] });
    expect(run.status).toBe('success');
    expect(run.warnings).toEqual([expect.stringMatching(/^onRunFinished hook failed: POST .*410 Gone$/)]);
    expect(JSON.stringify(run.warnings)).not.toContain('hook-secret-123456');
  });
});

describe('sources of one dataset (a store each, as vtexCatalog writes them) are alerted on each with its own history', () => {
  const productSchema = z.object({ id: z.number().int() });
  /** `obs/products` of one store: the same source and dataset for every store, a constant store= partition. */
  const store = (name: string, n: number) =>
    defineSource({ source: 'obs', dataset: 'products', partitionBy: { store: name }, schema: productSchema, extract: () => [Array.from({ length: n }, (_, id) => ({ id }))] });

  it('steady volumes of a big and a small store raise no volume alert; a drop of the small one is alerted under its scope', async () => {
    const lake = await tempLake();
    // Every run: the big store has 1,000 products, the small one 100 — nothing changes.
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await lake.extract([store('big', 1000), store('small', 100)]));
    for (const r of results) expect(r.status).toBe('success');
    expect(results[0]!.sources.map((s) => s.scope)).toEqual(['store=big', 'store=small']);
    // DESIGN: rows < 80% of the trailing average of the last 7 successful runs → warn. The small
    // store's 100 rows are exactly its own average; only a mix with the big store's runs is not.
    expect(results.flatMap((r) => r.alerts ?? []).filter((a) => a.kind === 'volume')).toEqual([]);
    expect((await lake.alerts()).filter((a) => a.kind === 'volume')).toEqual([]);
    const drop = await lake.extract([store('big', 1000), store('small', 50)]);
    expect(drop.alerts!.filter((a) => a.kind === 'volume')).toEqual([
      expect.objectContaining({ severity: 'warn', subject: 'obs/products (store=small)', message: expect.stringMatching(/^50 rows, under 80% of the average 100 /) }),
    ]);
  });

  it('a store not extracted past the freshness window is alerted, though another store of the dataset is fresh', async () => {
    const lake = await tempLake({ quality: { freshnessWarnHours: 0.0001, freshnessErrorHours: 1 } });
    await lake.extract([store('big', 10), store('small', 10)]);
    await new Promise((r) => setTimeout(r, 500));
    const r = await lake.extract([store('big', 10)]);
    const freshness = r.alerts!.filter((a) => a.kind === 'freshness');
    expect(freshness).toEqual([expect.objectContaining({ severity: 'warn', subject: 'obs/products (store=small)' })]);
    await lake.extract([store('small', 10)]);
    expect((await lake.alerts()).filter((a) => a.kind === 'freshness' && a.subject === 'obs/products (store=small)')).toEqual([]);
  });

  it('a drift of the dataset both stores share is one schema_drift alert of the dataset, its changes recorded once', async () => {
    const lake = await tempLake();
    await lake.extract([store('a', 10), store('b', 10)]);
    const named = z.object({ id: z.number().int(), name: z.string() });
    const renamed = (name: string) =>
      defineSource({ source: 'obs', dataset: 'products', partitionBy: { store: name }, schema: named, extract: () => [Array.from({ length: 10 }, (_, id) => ({ id, name: `p${id}` }))] });
    const next = await lake.extract([renamed('a'), renamed('b')]);
    expect(next.status).toBe('success');
    // The schema is the dataset's (one state file, `schema_changes` without a scope): one drift, not one per store.
    const drift = [{ kind: 'schema_drift', severity: 'warn', subject: 'obs/products', message: 'name added' }];
    expect(next.alerts!.filter((a) => a.kind === 'schema_drift')).toEqual(drift);
    expect((await lake.alerts()).filter((a) => a.kind === 'schema_drift').map(({ kind, severity, subject, message }) => ({ kind, severity, subject, message }))).toEqual(drift);
    expect(await lake.metrics.select(`SELECT source, dataset, column_name, change FROM schema_changes WHERE run_id = $1`, [next.runId])).toEqual([{ source: 'obs', dataset: 'products', column_name: 'name', change: 'added' }]);
  });

  it('drift alerts a store opened under its scope (as earlier versions named them) are resolved, as the dataset\'s are, by a run that finds no drift', async () => {
    const lake = await tempLake();
    await lake.extract([store('a', 10), store('b', 10)]);
    await lake.metrics.transaction(async (c) => {
      for (const s of ['a', 'b']) await c.run(`INSERT INTO alerts VALUES ($1, '20260101T000000000Z-aaaaaa', 'schema_drift', 'warn', $2, 'id retyped DOUBLE → BIGINT', now(), NULL)`, [`old-${s}`, `obs/products (store=${s})`]);
    });
    const openDrift = async () => (await lake.alerts()).filter((a) => a.kind === 'schema_drift').map((a) => a.subject);
    expect(await openDrift()).toEqual(['obs/products (store=a)', 'obs/products (store=b)']);
    const named = z.object({ id: z.number().int(), name: z.string() });
    const renamed = (name: string) =>
      defineSource({ source: 'obs', dataset: 'products', partitionBy: { store: name }, schema: named, extract: () => [Array.from({ length: 10 }, (_, id) => ({ id, name: `p${id}` }))] });
    // A drift now: the dataset's alert opens, the stores' old ones resolve.
    await lake.extract([renamed('a'), renamed('b')]);
    expect(await openDrift()).toEqual(['obs/products']);
    // No drift: the dataset's resolves too.
    await lake.extract([renamed('a'), renamed('b')]);
    expect(await openDrift()).toEqual([]);
    expect((await lake.alerts({ open: false })).filter((a) => a.kind === 'schema_drift').map((a) => a.subject).sort()).toEqual(['obs/products', 'obs/products (store=a)', 'obs/products (store=b)']);
  });
});
