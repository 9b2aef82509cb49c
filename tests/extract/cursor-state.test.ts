/**
 * Incremental cursors as a cron job sees them: run after run, with a source that fails in the
 * middle of a page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';
import { FAST_LIMITS, makeRecords, pages, sendJson, startFaultyServer, type Handler } from '../helpers/faulty-server.js';
import { registerCleanup, tempDir, tempLake } from '../helpers/temp-lake.js';

function quarantinedIds(root: string, source: string, dataset: string, runId: string): number[] {
  const file = path.join(root, 'quarantine', source, dataset, `${runId}.ndjson`);
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { record: { id: number } }).record.id);
}

describe('a source failing half-way through a page', () => {
  it('does not save a cursor past records that reached neither bronze nor quarantine: the next run reads them', async () => {
    // The partition function throws on record 2 (period is null): that record is refused there.
    const records = [
      { id: 1, period: '2026-01' },
      { id: 2, period: null as string | null },
      { id: 3, period: '2026-01' },
    ];
    const server = await startFaultyServer({
      '/items': (_req, res, { url }) => {
        const since = Number(url.searchParams.get('since_id') ?? 0);
        sendJson(res, 200, records.filter((r) => r.id > since));
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = httpSource({
      source: 'inc',
      dataset: 'items',
      url: `${server.url}/items`,
      schema: z.object({ id: z.number().int(), period: z.string().nullable() }),
      partitionBy: { year_of: (r) => (r.period as string).slice(0, 4) },
      incremental: { cursorField: 'id', param: 'since_id' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    // Refused like a partition value that cannot be stored: to quarantine, naming the key and the error.
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const line = fs.readFileSync(path.join(lake.paths.root, 'quarantine', 'inc', 'items', `${first.runId}.ndjson`), 'utf8');
    expect(JSON.parse(line)).toMatchObject({ record: { id: 2 }, reasons: [{ path: 'year_of', code: 'invalid_partition', message: expect.stringMatching(/partition key "year_of" threw: Cannot read properties of null/) }] });

    // The upstream data is fixed; the next cron run must pick up what the first one did not store.
    records[1]!.period = '2026-02';
    const second = await lake.extract(source);
    expect(second.sources[0]!.status).toBe('success');

    const stored = (await lake.query<{ id: number }>(`select id from read_parquet('${lake.paths.bronze}/inc/items/**/*.parquet') order by id`)).map((r) => r.id);
    const quarantined = [first, second].flatMap((r) => quarantinedIds(lake.paths.root, 'inc', 'items', r.runId));
    // Records 2 and 3 are somewhere (bronze or quarantine), not skipped for good by the cursor.
    expect([...new Set([...stored, ...quarantined])].sort()).toEqual([1, 2, 3]);
  });
});

describe('a page the writer cannot take whole', () => {
  it('does not save the cursor declared with it: the next run reads the page again', async () => {
    // Record 2 is nested too deep to store as JSON: appending the page throws there, after record 1.
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    const records = [
      { id: 1, extra: 1 as unknown },
      { id: 2, extra: deep },
      { id: 3, extra: 3 as unknown },
    ];
    const server = await startFaultyServer({
      '/items': (_req, res, { url }) => {
        const since = Number(url.searchParams.get('since_id') ?? 0);
        const body = records.filter((r) => r.id > since);
        // The deep value cannot go through JSON either: the server sends it as a marker, rebuilt on the other side.
        sendJson(res, 200, body.map((r) => (r.extra === deep ? { ...r, extra: 'DEEP' } : r)));
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = httpSource({
      source: 'inc',
      dataset: 'items',
      url: `${server.url}/items`,
      schema: z.object({ id: z.number().int(), extra: z.unknown() }).transform((r) => (r.extra === 'DEEP' ? { ...r, extra: deep } : r)),
      incremental: { cursorField: 'id', param: 'since_id' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 1, error: expect.stringMatching(/nested too deep/) });

    records[1]!.extra = 2;
    const second = await lake.extract(source);
    expect(second.sources[0]!.status).toBe('success');
    const stored = (await lake.query<{ id: number }>(`select distinct id from read_parquet('${lake.paths.bronze}/inc/items/**/*.parquet') order by id`)).map((r) => r.id);
    expect(stored).toEqual([1, 2, 3]);
  });
});

describe('lake.close() during an incremental extract', () => {
  it('stops at the next page without saving a cursor over a page it read ahead but never stored: the next run reads it', async () => {
    const records = makeRecords(120);
    const data = pages.pageNumber(records, 10);
    let closing: Promise<void> | undefined;
    let lake: Awaited<ReturnType<typeof tempLake>> | undefined;
    // Pages are fetched ahead of the writer; the lake closes while the writer is a few pages behind.
    const route: Handler = (req, res, hit) => {
      if (hit.url.searchParams.get('page') === '8' && !hit.url.searchParams.has('since_id')) closing ??= lake!.close();
      return data(req, res, hit);
    };
    const server = await startFaultyServer({ '/items': route });
    registerCleanup(() => server.close());
    const root = tempDir();
    // A flush per page keeps the writer behind the pages read ahead.
    const options = { root: path.join(root, 'data'), models: path.join(root, 'models'), limits: { flushRows: 10 } };
    lake = await tempLake(options);
    const source = httpSource({
      source: 'inc',
      dataset: 'items',
      url: `${server.url}/items`,
      paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
      items: 'data',
      schema: z.object({ id: z.number().int(), name: z.string(), price: z.number() }),
      incremental: { cursorField: 'id', param: 'since_id' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    await closing;
    expect(first.sources[0]!.status).toBe('partial');

    const again = await tempLake(options);
    const second = await again.extract(source);
    expect(second.sources[0]!.status).toBe('success');
    const [counts] = await again.query(`select count(*) n, count(distinct id) d from read_parquet('${again.paths.bronze}/inc/items/**/*.parquet')`);
    // Every record once: none skipped by a cursor saved past rows that never reached bronze.
    expect(counts).toEqual({ n: 120, d: 120 });
  });
});
