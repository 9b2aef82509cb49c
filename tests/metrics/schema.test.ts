import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { MAX_RECORDED_CURSOR_BYTES } from '../../src/metrics/metrics-db.js';
import { tempDir, registerCleanup } from '../helpers/temp-lake.js';

// `runs` and `bronze_files` as the first versions created them: with a PRIMARY KEY.
const KEYED = [
  `CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, status VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, duration_ms BIGINT, host VARCHAR, pid INTEGER, proc_start VARCHAR, rows BIGINT DEFAULT 0,
    rejected BIGINT DEFAULT 0, files INTEGER DEFAULT 0, bytes BIGINT DEFAULT 0, error VARCHAR, result JSON)`,
  `CREATE TABLE bronze_files (path VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL, source VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
    batch_no INTEGER NOT NULL, partition JSON, rows BIGINT NOT NULL, bytes BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ, removed_by VARCHAR)`,
  `INSERT INTO runs VALUES ('20260101T000000000Z-aaaaaa', 'extract', 'success', '2026-01-01 00:00:00+00', '2026-01-01 00:00:01+00', 1000,
    'elsewhere', 1, 'x', 7, 1, 1, 100, NULL, '{"note":"kept"}')`,
  `INSERT INTO bronze_files VALUES ('bronze/old/items/x.parquet', '20260101T000000000Z-aaaaaa', 'old', 'items', 1, '{}', 7, 100, '2026-01-01 00:00:01+00', NULL, NULL)`,
];

async function keys(file: string): Promise<string[]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await db.connect();
  try {
    const reader = await c.runAndReadAll(`SELECT table_name FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY 1`);
    return reader.getRowObjects().map((r) => String(r.table_name));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('metrics schema', () => {
  it('keeps each finished run\'s result in its own file, not in the runs table', async () => {
    const dir = tempDir();
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), log: { console: false } });
    registerCleanup(() => lake.close());
    const r = await lake.extract(defineSource({ source: 's', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] }));
    const file = path.join(lake.paths.root, 'metrics', 'results', r.runId.slice(0, 6), `${r.runId}.json`);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ runId: r.runId, status: 'success', sources: [{ source: 's', rows: 1 }] });
    expect(await lake.metrics.select(`SELECT result FROM runs WHERE run_id = $1`, [r.runId])).toEqual([{ result: null }]);
    expect((await lake.runs())[0]!.result).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });


  it('creates runs and bronze_files without a key index (writers keep paths unique)', async () => {
    const dir = tempDir();
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), log: { console: false } });
    registerCleanup(() => lake.close());
    const source = defineSource({ source: 's', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }, { id: 2 }]] });
    await lake.extract(source);
    await lake.extract(source);
    await lake.close();
    expect(await keys(lake.paths.metrics)).not.toContain('runs');
    expect(await keys(lake.paths.metrics)).not.toContain('bronze_files');
    const reopened = await Lakehouse.open({ root: lake.paths.root, log: { console: false } });
    registerCleanup(() => reopened.close());
    const files = await reopened.metrics.select(`SELECT count(*) AS n, count(DISTINCT path) AS paths FROM bronze_files`);
    expect(files).toEqual([{ n: 2, paths: 2 }]);
  });

  it('rebuilds the keyed tables of an older metrics file without their key, keeping every row', async () => {
    const root = path.join(tempDir(), 'data');
    const file = path.join(root, 'metrics', 'runs.duckdb');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    {
      const db = await DuckDBInstance.create(file);
      const c = await db.connect();
      for (const sql of KEYED) await c.run(sql);
      c.closeSync();
      db.closeSync();
    }
    expect(await keys(file)).toEqual(['bronze_files', 'runs']);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    const [old] = await lake.runs();
    expect(old).toMatchObject({ runId: '20260101T000000000Z-aaaaaa', status: 'success', rows: 7, bytes: 100, result: { note: 'kept' } });
    // The result moved out of the row, into its file.
    expect(await lake.metrics.select(`SELECT count(*) AS n FROM runs WHERE result IS NOT NULL`)).toEqual([{ n: 0 }]);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'metrics', 'results', '202601', '20260101T000000000Z-aaaaaa.json'), 'utf8'))).toEqual({ note: 'kept' });
    // The defaults of the current DDL hold on the rebuilt table.
    const r = await lake.extract(defineSource({ source: 's', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] }));
    expect((await lake.runs()).map((x) => x.runId)).toEqual([r.runId, old!.runId]);
    expect(await lake.metrics.select(`SELECT path FROM bronze_files ORDER BY committed_at`)).toEqual([
      { path: 'bronze/old/items/x.parquet' },
      { path: expect.stringMatching(/^bronze\/s\/items\//) },
    ]);
    await lake.close();
    expect(await keys(file)).toEqual(['alerts']); // alerts keeps its key: a few rows, rarely written
  });

  it('adds the scope column to source_results of an older metrics file; its results and alerts of a dataset now scoped are superseded', async () => {
    const root = path.join(tempDir(), 'data');
    const file = path.join(root, 'metrics', 'runs.duckdb');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    {
      const db = await DuckDBInstance.create(file);
      const c = await db.connect();
      // source_results as it was before sources of one dataset were told apart: no scope column.
      await c.run(`CREATE TABLE source_results (run_id VARCHAR NOT NULL, source VARCHAR NOT NULL, dataset VARCHAR NOT NULL, status VARCHAR NOT NULL,
        rows BIGINT NOT NULL, rejected BIGINT NOT NULL, files INTEGER NOT NULL, bytes BIGINT NOT NULL, requests INTEGER NOT NULL, retries INTEGER NOT NULL,
        duration_ms BIGINT NOT NULL, error VARCHAR, finished_at TIMESTAMPTZ NOT NULL)`);
      await c.run(`INSERT INTO source_results VALUES ('20260101T000000000Z-aaaaaa', 'old', 'items', 'success', 7, 0, 1, 100, 1, 0, 10, NULL, '2026-01-01 00:00:01+00')`);
      await c.run(`CREATE TABLE alerts (alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR NOT NULL, severity VARCHAR NOT NULL, subject VARCHAR NOT NULL,
        message VARCHAR NOT NULL, raised_at TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ)`);
      await c.run(`INSERT INTO alerts VALUES ('a1', '20260101T000000000Z-aaaaaa', 'source_failed', 'error', 'old/items', 'down', '2026-01-01 00:00:01+00', NULL)`);
      c.closeSync();
      db.closeSync();
    }
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    const store = defineSource({ source: 'old', dataset: 'items', partitionBy: { store: 'a' }, schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] });
    const r = await lake.extract(store);
    expect(await lake.metrics.select(`SELECT run_id, scope FROM source_results ORDER BY finished_at`)).toEqual([
      { run_id: '20260101T000000000Z-aaaaaa', scope: null },
      { run_id: r.runId, scope: 'store=a' },
    ]);
    // The unscoped results stopped when the scoped ones began: no freshness alert for them, and
    // the alert they left open is resolved by the dataset's scoped source.
    expect(r.alerts).toEqual([]);
    expect(await lake.alerts()).toEqual([]);
  });

  it('records a batch cursor up to 16 KB, and only the size of a larger one (a crawl frontier)', async () => {
    const dir = tempDir();
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), log: { console: false } });
    registerCleanup(() => lake.close());
    const small = { page: 3, next: 'abc' };
    const frontier = { done: Array.from({ length: 2000 }, (_, i) => `https://shop.example/p/${i}`), queue: [] as string[] };
    const bytes = Buffer.byteLength(JSON.stringify(frontier));
    expect(bytes).toBeGreaterThan(MAX_RECORDED_CURSOR_BYTES);
    for (const [batchNo, cursor] of [[1, small], [2, frontier]] as const) {
      await lake.metrics.recordBatch({ runId: 'r-cursor', source: 's', dataset: 'd', batchNo, rows: 0, rejected: 0, cursor, files: [] });
    }
    const rows = await lake.metrics.select(`SELECT batch_no, cursor::VARCHAR AS cursor FROM source_batches WHERE run_id = 'r-cursor' ORDER BY batch_no`);
    expect(JSON.parse(String(rows[0]!.cursor))).toEqual(small);
    expect(JSON.parse(String(rows[1]!.cursor))).toEqual({ omitted: expect.stringMatching(/state\/cursors/), bytes });
  });
});
