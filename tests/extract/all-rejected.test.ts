/**
 * A source that yielded records and had every one rejected landed nothing in bronze: it is
 * `failed` (ALL_REJECTED), so the run, its alerts and the CLI's exit code say so. A source that
 * yielded nothing, or got some records through, is a success.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { FAST_LIMITS, sendJson, startFaultyServer } from '../helpers/faulty-server.js';
import { projectLake, prices } from '../helpers/models.js';
import { quarantined } from '../helpers/quarantine.js';
import { registerCleanup, tempDir, tempLake } from '../helpers/temp-lake.js';


// The API changed `total` from a number to a string: every order fails the schema.
const orders = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, total: `${i + 1}.90`, updated_at: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z` }));
const orderSchema = z.object({ id: z.number().int(), total: z.number(), updated_at: z.iso.datetime() });

describe('a source whose every record was rejected', () => {
  it('is failed with ALL_REJECTED naming the count and the quarantine file; the run fails and raises source_failed', async () => {
    const server = await startFaultyServer({ '/orders': (_req, res) => sendJson(res, 200, { results: orders }) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const result = await lake.extract(httpSource({ source: 'shop', dataset: 'orders', url: `${server.url}/orders`, items: 'results', schema: orderSchema, limits: FAST_LIMITS }));
    const file = path.join(lake.paths.quarantine, 'shop', 'orders', `${result.runId}.ndjson`);
    expect(result.status).toBe('failed');
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0, rejected: 50, files: 0, errorCode: 'ALL_REJECTED' });
    expect(result.sources[0]!.error).toBe(`all 50 records were rejected, none reached bronze: see ${file} for the reasons`);
    // The file it points to holds every record, whole, with its reason.
    const entries = quarantined(lake.paths.root, 'shop', 'orders', result.runId);
    expect(entries.map((e) => e.record.id)).toEqual(orders.map((o) => o.id));
    for (const e of entries) expect(e.reasons).toEqual([expect.objectContaining({ path: 'total', code: 'invalid_type' })]);

    const [sourceRow] = await lake.metrics.select('SELECT status, rows, rejected, error FROM source_results WHERE run_id = $1', [result.runId]);
    expect(sourceRow).toEqual({ status: 'failed', rows: 0, rejected: 50, error: result.sources[0]!.error });
    const [run] = await lake.metrics.select('SELECT status, rows, rejected, error FROM runs WHERE run_id = $1', [result.runId]);
    expect(run).toEqual({ status: 'failed', rows: 0, rejected: 50, error: result.sources[0]!.error });
    const open = await lake.metrics.select(`SELECT severity, message FROM alerts WHERE kind = 'source_failed' AND subject = 'shop/orders' AND resolved_at IS NULL`);
    expect(open).toEqual([{ severity: 'error', message: result.sources[0]!.error }]);
  });

  it('of an incremental source saves no cursor: the run after the API is fixed reads those records again', async () => {
    let fixed = false;
    const server = await startFaultyServer({
      '/orders': (_req, res, { url }) => {
        const since = url.searchParams.get('updated_since');
        const body = orders.filter((o) => since === null || o.updated_at > since).map((o) => (fixed ? { ...o, total: Number(o.total) } : o));
        sendJson(res, 200, { results: body });
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = httpSource({
      source: 'shop',
      dataset: 'orders',
      url: `${server.url}/orders`,
      items: 'results',
      schema: orderSchema,
      incremental: { cursorField: 'updated_at', param: 'updated_since' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'failed', rows: 0, rejected: 50, errorCode: 'ALL_REJECTED' });
    expect(fs.existsSync(path.join(lake.paths.state, 'cursors', 'shop.orders.json'))).toBe(false);
    fixed = true;
    const second = await lake.extract(source);
    expect(server.requests.at(-1)!.query.get('updated_since')).toBeNull();
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 50, rejected: 0 });
    expect(second.sources[0]).not.toHaveProperty('errorCode');
    // The alert the failure opened is resolved by the run that landed the records.
    expect(await lake.metrics.select(`SELECT kind FROM alerts WHERE kind = 'source_failed' AND resolved_at IS NULL`)).toEqual([]);
  });

  it('next to a source that landed its records makes the run partial', async () => {
    const lake = await tempLake();
    const bad = defineSource({ source: 'shop', dataset: 'orders', schema: orderSchema, extract: () => [orders.slice(0, 3)] });
    const result = await lake.extract([bad, prices([['a', '1', 2]])]);
    expect(result.status).toBe('partial');
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows, s.rejected, s.errorCode])).toEqual([
      ['orders', 'failed', 0, 3, 'ALL_REJECTED'],
      ['prices', 'success', 1, 0, undefined],
    ]);
    expect(result.alerts).toContainEqual(expect.objectContaining({ kind: 'source_failed', severity: 'error', subject: 'shop/orders' }));
  });

  it('counts rejections of every kind: records their partition refused and raw records the source could not read', async () => {
    const lake = await tempLake();
    const unplaceable = defineSource({
      source: 'shop',
      dataset: 'periods',
      schema: z.object({ id: z.number(), period: z.string().nullable() }),
      partitionBy: { year_of: (r) => (r.period as string).slice(0, 4) },
      extract: () => [[{ id: 1, period: null }]],
    });
    const unreadable = defineSource({
      source: 'shop',
      dataset: 'lines',
      schema: z.object({ id: z.number() }),
      *extract(ctx) {
        ctx.reject('id;;', 'not a CSV row of this file', { line: 2 });
      },
    });
    const result = await lake.extract([unplaceable, unreadable]);
    expect(result.status).toBe('failed');
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows, s.rejected, s.errorCode])).toEqual([
      ['periods', 'failed', 0, 1, 'ALL_REJECTED'],
      ['lines', 'failed', 0, 1, 'ALL_REJECTED'],
    ]);
    expect(result.sources[1]!.error).toBe(`its only record was rejected, none reached bronze: see ${path.join(lake.paths.quarantine, 'shop', 'lines', `${result.runId}.ndjson`)} for the reasons`);
  });
});

describe('sources that are not all rejected stay a success', () => {
  it('one good record among bad ones: success, with the rest counted as rejected', async () => {
    const lake = await tempLake();
    const source = defineSource({ source: 'shop', dataset: 'orders', schema: orderSchema, extract: () => [[...orders.slice(0, 3), { ...orders[3]!, total: 4.9 }]] });
    const result = await lake.extract(source);
    expect(result).toMatchObject({ status: 'success', sources: [{ status: 'success', rows: 1, rejected: 3 }] });
    expect(result.sources[0]).not.toHaveProperty('error');
  });

  it('a source that yielded nothing (an empty API, no batches or an empty one): success', async () => {
    const lake = await tempLake();
    const nothing = defineSource({ source: 'shop', dataset: 'none', schema: orderSchema, extract: () => [] });
    const empty = defineSource({ source: 'shop', dataset: 'empty', schema: orderSchema, extract: () => [[]] });
    const result = await lake.extract([nothing, empty]);
    expect(result.status).toBe('success');
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows, s.rejected, s.error])).toEqual([
      ['none', 'success', 0, 0, undefined],
      ['empty', 'success', 0, 0, undefined],
    ]);
    expect(result.alerts?.filter((a) => a.kind === 'source_failed')).toEqual([]);
  });
});

describe('lake.run after a source had every record rejected (the build runs unless the extract failed and nothing was ever built)', () => {
  const files = { 'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}` };
  const allBad = defineSource({ source: 'shop', dataset: 'orders', schema: orderSchema, extract: () => [orders.slice(0, 2)] });

  it('with another source landing rows: the build runs, the run is partial', async () => {
    const { lake } = await projectLake(files);
    const run = await lake.run({ sources: [allBad, prices([['a', '1', 2]])] });
    expect(run.extract).toMatchObject({ status: 'partial' });
    expect(run.build?.models.map((m) => [m.name, m.status])).toEqual([['staging.stg_prices', 'success']]);
    expect(run.status).toBe('partial');
    expect(run.alerts).toContainEqual(expect.objectContaining({ kind: 'source_failed', subject: 'shop/orders' }));
  });

  it('alone on a lake never built: nothing is built and the run is failed', async () => {
    const { lake } = await projectLake(files);
    const run = await lake.run({ sources: [allBad] });
    expect(run.extract).toMatchObject({ status: 'failed' });
    expect(run.build).toBeNull();
    expect(run.status).toBe('failed');
  });
});

describe('duckhouse extract', () => {
  it('exits 1 and prints the failure when a source had every record rejected', () => {
    const dir = tempDir('duckhouse-cli-');
    writeCliConfig(dir, `defineSource({ source: 'shop', dataset: 'orders', schema: z.object({ id: z.number(), total: z.number() }),
    extract: () => [[{ id: 1, total: '1.90' }, { id: 2, total: '2.90' }]] })`);
    const r = runCli(dir, ['extract']);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/^shop\/orders: failed, 0 rows, 2 rejected, 0 files — all 2 records were rejected, none reached bronze: see .*quarantine.*\.ndjson for the reasons$/m);
    expect(r.out).toMatch(/alert {3}\[error\] source_failed shop\/orders: all 2 records were rejected/);
    expect(r.out).toMatch(/: failed$/m);
  }, 60_000);
});
