/**
 * SIGKILL at arbitrary moments of every kind of run: CSV and JSON file extracts, an incremental
 * HTTP extract (cursor on `since_id`), a build with an incremental model, `compact` and `prune`.
 * Each child is killed after a delay drawn from a seeded sequence over that operation's measured
 * duration. After each kill, before anything recovers: every Parquet file under bronze/ and the
 * warehouse reads whole, no temp file is left beside its target, `analytics.duckdb` opens
 * READ_ONLY and every model's table reads. After the next open (with a short lock timeout, so a
 * lock of the dead process that were not taken over would fail the re-run): the killed run reads
 * `abandoned`, never `running`; the live bronze files are whole and recorded; re-running the
 * operation succeeds; and bronze holds each source record exactly once per run — across the
 * killed and the re-run incremental extract, exactly once overall (nothing skipped, nothing read twice).
 * Half the kills land after a seeded delay, half right after a seeded one of the child's file
 * renames or removals (tests/helpers/child-ops.ts), between two steps of a commit protocol.
 * Then kills at chosen points, each the reproduction of a defect: a build deleting superseded
 * warehouse files, a process creating a lock file or taking over a dead process's lock. Last, a
 * second kill during the open that recovers the first (at one of its first file operations).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFailed } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse } from '../../src/index.js';
import { opsSource, runOp, spawnOp, type Op, type OpsConfig } from '../helpers/child-ops.js';
import { makeRecords, pages, startFaultyServer } from '../helpers/faulty-server.js';
import { expectWholeParquet, readEveryTableWhole, runsOfPid, withMemoryQuery } from '../helpers/lake-checks.js';
import { writeFiles } from '../helpers/models.js';
import { FULL, SEED, scaled, seededRandom } from '../helpers/reliability.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';

const OPS: Op[] = ['csv', 'json', 'http', 'build', 'compact', 'prune'];
/** Full: every operation twice, in turn. Fast subset (`npm test`): two operations drawn from the seed. */
const TRIALS = scaled(2, 2 * OPS.length);
const CSV_FILES = 4;
const CSV_ROWS = 3_000;
const JSON_FILES = 3;
const JSON_ROWS = 2_000;
const HTTP_RECORDS = 300;
const LOCK_TIMEOUT_MILLIS = 5_000;

const MODELS = {
  'staging/stg_orders.sql': `select id, customer, amount, _run_id, _extracted_at from {{ source('files', 'orders') }}`,
  'staging/stg_events.sql': `select id, kind, value, _run_id from {{ source('files', 'events') }}`,
  'trusted/orders.sql': `{{ config(materialized='incremental', unique_key='id') }}
select id, customer, amount, _run_id, _extracted_at
from {{ ref('stg_orders') }}
{% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}
qualify row_number() over (partition by id order by _extracted_at desc, _run_id desc) = 1`,
  'marts/order_totals.sql': `select count(*) as n, count(distinct id) as ids, sum(amount) as revenue from {{ ref('orders') }}`,
  'marts/by_customer.sql': `select customer, count(*) as n from {{ ref('orders') }} group by customer`,
  'marts/event_kinds.sql': `select kind, count(*) as n from {{ ref('stg_events') }} group by kind`,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Temp files writeFileAtomic left beside their targets (outside `.tmp/`). */
const strayTmpFiles = (root: string): string[] => listFiles(root).filter((f) => f.endsWith('.tmp') && !f.startsWith(`.tmp${path.sep}`));

/** Opens `analytics.duckdb` READ_ONLY as any client would and counts every table and view outside `_duckhouse`. */
async function readEveryModel(file: string): Promise<Record<string, number>> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  try {
    const tables = (await c.runAndReadAll(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema <> '_duckhouse' ORDER BY ALL`)).getRowObjectsJS();
    const out: Record<string, number> = {};
    for (const { s, t } of tables as { s: string; t: string }[]) {
      out[`${s}.${t}`] = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM "${s}"."${t}"`)).getRowObjectsJS()[0]!.n);
    }
    return out;
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** The live (recorded, not removed) bronze files of a dataset, absolute. */
async function liveFiles(lake: Lakehouse, dataset: string): Promise<string[]> {
  const rows = await lake.metrics.select(`SELECT path FROM bronze_files WHERE removed_at IS NULL AND path LIKE $1 ORDER BY path`, [`bronze/${dataset}/%`]);
  return rows.map((r) => path.join(lake.paths.root, String(r.path)));
}

/** Rows of the live files of a dataset: total, and (run, id) pairs seen more than once. */
async function liveRows(lake: Lakehouse, dataset: string): Promise<{ n: number; ids: number; dupes: number; perRun: Map<string, number> }> {
  const files = await liveFiles(lake, dataset);
  if (files.length === 0) return { n: 0, ids: 0, dupes: 0, perRun: new Map() };
  const list = `[${files.map(sqlString).join(', ')}]`;
  const [totals] = await lake.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids, count(*) - count(DISTINCT (_run_id, id)) AS dupes FROM read_parquet(${list}, union_by_name = true)`);
  const perRun = await lake.query(`SELECT _run_id AS run, count(*) AS n FROM read_parquet(${list}, union_by_name = true) GROUP BY ALL`);
  return { n: Number(totals!.n), ids: Number(totals!.ids), dupes: Number(totals!.dupes), perRun: new Map(perRun.map((r) => [String(r.run), Number(r.n)])) };
}

/**
 * Bronze after recovery: every file on disk is one the metrics db recorded (live, or removed by a
 * compaction or prune and waiting out its retention); every live file is on disk, whole, with
 * its recorded row count.
 */
async function expectRecordedBronze(lake: Lakehouse): Promise<void> {
  const onDisk = listFiles(lake.paths.bronze).map((f) => path.join('bronze', f));
  const recorded = await lake.metrics.select('SELECT path, rows, removed_at IS NULL AS live FROM bronze_files');
  const known = new Set(recorded.map((r) => String(r.path)));
  expect(onDisk.filter((f) => !known.has(f)), 'files under bronze/ the metrics db never recorded').toEqual([]);
  const live = recorded.filter((r) => r.live);
  const present = new Set(onDisk);
  expect(live.filter((r) => !present.has(String(r.path))).map((r) => r.path), 'live files missing from bronze/').toEqual([]);
  for (let i = 0; i < live.length; i += 200) {
    const chunk = live.slice(i, i + 200);
    const counted = await lake.query(`SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata([${chunk.map((r) => sqlString(path.join(lake.paths.root, String(r.path)))).join(', ')}])`);
    const byFile = new Map(counted.map((r) => [String(r.f), Number(r.n)]));
    for (const r of chunk) expect(byFile.get(path.join(lake.paths.root, String(r.path))), `rows in ${String(r.path)}`).toBe(Number(r.rows));
  }
}

function writeInputs(dir: string): { csvGlob: string; jsonGlob: string } {
  fs.mkdirSync(path.join(dir, 'csv'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'json'), { recursive: true });
  for (let f = 0; f < CSV_FILES; f++) {
    const lines = ['id,customer,amount'];
    for (let i = 0; i < CSV_ROWS; i++) {
      const id = f * CSV_ROWS + i;
      lines.push(`${id},c${id % 97},${((id % 1000) + 0.25).toFixed(2)}`);
    }
    fs.writeFileSync(path.join(dir, 'csv', `orders-${f}.csv`), `${lines.join('\n')}\n`);
  }
  for (let f = 0; f < JSON_FILES; f++) {
    const lines: string[] = [];
    for (let i = 0; i < JSON_ROWS; i++) {
      const id = f * JSON_ROWS + i;
      lines.push(JSON.stringify({ id, kind: `k${id % 7}`, value: id * 0.5, tags: [`t${id % 3}`] }));
    }
    fs.writeFileSync(path.join(dir, 'json', `events-${f}.ndjson`), `${lines.join('\n')}\n`);
  }
  return { csvGlob: path.join(dir, 'csv', '*.csv'), jsonGlob: path.join(dir, 'json', '*.ndjson') };
}

describe('SIGKILL at arbitrary moments of every kind of run', () => {
  it(`${TRIALS} kills over file, HTTP and incremental extracts, builds, compactions and prunes; the lake stays whole and re-runs neither skip nor repeat`, async () => {
    onTestFailed(() => {
      process.stdout.write(`[kill-anywhere] failed with seed ${SEED}: replay with RELIABILITY_SEED=${SEED}\n`);
    });
    const random = seededRandom(SEED);
    const trialOps = Array.from({ length: TRIALS }, (_, trial) => (FULL ? OPS[trial % OPS.length]! : OPS[Math.floor(random() * OPS.length)]!));
    const base = tempDir('duckhouse-kill-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, MODELS);
    const { csvGlob, jsonGlob } = writeInputs(path.join(base, 'in'));
    const server = await startFaultyServer({ '/orders': pages.pageNumber(makeRecords(HTTP_RECORDS), 20) });
    registerCleanup(() => server.close());

    const config = (op: Op, trial: number): OpsConfig => {
      const common = { root, models, op, retainSupersededMinutes: 0 };
      switch (op) {
        case 'csv':
          return { ...common, input: csvGlob, flushRows: 1_000 };
        case 'json':
          return { ...common, input: jsonGlob, flushRows: 500 };
        case 'http':
          return { ...common, input: `${server.url}/orders`, dataset: trial < 0 ? "orders_calib" : `orders_t${trial}`, flushRows: 40 };
        case 'compact':
          return { ...common, target: 'files/orders', targetFileMb: compactTargetMb() };
        case 'prune':
          return { ...common, target: 'old/items', olderThan: '2021-01-01' };
        default:
          return common;
      }
    };
    const open = (): Promise<Lakehouse> => Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: LOCK_TIMEOUT_MILLIS, retainSupersededMinutes: 0 });
    // Old partitions for prune: three past days, several batches each.
    const extractOld = async (lake: Lakehouse): Promise<void> => {
      for (const day of ['2020-03-01', '2020-03-02', '2020-03-03']) {
        const r = await lake.extract([syntheticItems({ source: 'old', batches: 3, rowsPerBatch: 500 })], { extractedAt: new Date(`${day}T15:00:00Z`) });
        expect(r.status).toBe('success');
      }
    };
    const compactTargetMb = (): number => {
      const dir = path.join(root, 'bronze', 'files', 'orders');
      const sizes = listFiles(dir).map((f) => fs.statSync(path.join(dir, f)).size);
      const mean = sizes.reduce((s, b) => s + b, 0) / Math.max(1, sizes.length);
      return (4 * mean) / (1024 * 1024);
    };

    {
      const lake = await open();
      try {
        for (const op of ['csv', 'json'] as const) expect((await runOp(lake, config(op, -1))).status).toBe('success');
        await extractOld(lake);
        expect((await lake.build()).status).toBe('success');
      } finally {
        await lake.close();
      }
    }

    // How long each operation takes in a child, from its `started` line to its exit, and how many file renames and removals it makes.
    const duration = new Map<Op, number>();
    const fileOps = new Map<Op, number>();
    for (const op of OPS.filter((o) => trialOps.includes(o))) {
      const c = spawnOp(config(op, -1));
      await c.waitFor((l) => l.startsWith('{"started"'));
      const since = performance.now();
      const { code, stderr } = await c.exited;
      expect(code, `${op} calibration: ${stderr}`).toBe(0);
      duration.set(op, performance.now() - since);
      const done = c.lines.find((l) => l.startsWith('{"result"'));
      fileOps.set(op, (JSON.parse(done!) as { fileOps: number }).fileOps);
      if (op === 'prune' || op === 'compact') {
        const lake = await open();
        try {
          if (op === 'prune') await extractOld(lake);
          else expect((await runOp(lake, config('csv', -1))).status).toBe('success');
        } finally {
          await lake.close();
        }
      }
    }

    const outcomes: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const op = trialOps[trial]!;
      const cfg = config(op, trial);
      let where = `trial ${trial} (${op}, seed ${SEED})`;
      // What compact must keep: the live rows of the dataset before it.
      let before: Awaited<ReturnType<typeof liveRows>> | undefined;
      if (op === 'compact') {
        const lake = await open();
        try {
          before = await liveRows(lake, 'files/orders');
        } finally {
          await lake.close();
        }
      }
      // Half the kills after a delay over the run's duration (inside DuckDB's writes, HTTP, the
      // metrics db), half right after one of its file renames or removals (between commit steps).
      const atFileOp = random() < 0.5;
      const killAfterFileOp = 1 + Math.floor(random() * fileOps.get(op)!);
      const c = spawnOp(atFileOp ? { ...cfg, killAfterFileOp } : cfg);
      await c.waitFor((l) => l.startsWith('{"started"')).catch(() => undefined);
      const delayMillis = Math.round(random() * 1.1 * duration.get(op)!);
      if (!atFileOp) {
        await sleep(delayMillis);
        c.process.kill('SIGKILL');
      }
      const point = atFileOp ? `file op ${killAfterFileOp}/${fileOps.get(op)}` : `${delayMillis}ms`;
      where = `trial ${trial} (${op} killed at ${point}, seed ${SEED})`;
      const pid = c.process.pid!;
      const { signal, code, stderr } = await c.exited;
      const finishedFirst = signal !== 'SIGKILL';
      if (finishedFirst) expect(code, `${where} exited by itself: ${stderr}`).toBe(0);

      // Straight after the kill, nothing recovered: what any reader sees.
      await withMemoryQuery(async (query) => {
        await expectWholeParquet(query, path.join(root, 'bronze'));
        if (fs.existsSync(path.join(root, 'warehouse'))) await expectWholeParquet(query, path.join(root, 'warehouse'));
      });
      const tables = await readEveryModel(path.join(root, 'analytics.duckdb'));
      expect(Object.keys(tables).length, `${where}: models in analytics.duckdb`).toBeGreaterThanOrEqual(Object.keys(MODELS).length);
      // The metrics db, which the dead process may have been checkpointing (each record detaches
      // it): it opens as any client opens it and every block of every table reads.
      const metricsTables = await readEveryTableWhole(path.join(root, 'metrics', 'runs.duckdb'));
      expect(metricsTables['main.runs'], `${where}: runs recorded in metrics/runs.duckdb`).toBeGreaterThan(0);

      const lake = await open();
      try {
        expect(strayTmpFiles(root), `${where}: temp files of the dead process, removed at open`).toEqual([]);
        const runs = await runsOfPid(lake, pid);
        const history = new Map((await lake.runs({ limit: 200 })).map((r) => [r.runId, r.status]));
        for (const r of runs) {
          expect(history.get(r.runId), `${where}: lake.runs() of ${r.runId}`).toBe(r.status);
          expect(r.status === 'abandoned' || r.status === 'success', `${where}: run ${r.runId} of the killed process is ${r.status}`).toBe(true);
          if (finishedFirst) expect(r.status, where).toBe('success');
        }
        outcomes.push(`${op}@${point}:${runs[0]?.status ?? 'none'}`);
        // KILL_TRACE=1 prints each trial as it ends (a slow or stuck run shows where it is).
        if (process.env.KILL_TRACE) process.stdout.write(`${where}: ${outcomes.at(-1)}\n`);
        await expectRecordedBronze(lake);

        // Re-run what was killed: it takes over the dead process's locks and completes.
        const result = await runOp(lake, cfg);
        expect(result.status, `${where}: re-run ${JSON.stringify(result)}`).toBe('success');
        await expectRecordedBronze(lake);

        if (op === 'csv' || op === 'json') {
          const dataset = op === 'csv' ? 'files/orders' : 'files/events';
          const total = op === 'csv' ? CSV_FILES * CSV_ROWS : JSON_FILES * JSON_ROWS;
          const rows = await liveRows(lake, dataset);
          expect(rows.dupes, `${where}: a record twice in one run of ${dataset}`).toBe(0);
          expect(rows.perRun.get(result.runId), `${where}: rows of the re-run`).toBe(total);
          const killed = runs[0] ? (rows.perRun.get(runs[0].runId) ?? 0) : 0;
          const batches = runs[0] ? await lake.metrics.select('SELECT coalesce(sum(rows), 0) AS n FROM source_batches WHERE run_id = $1', [runs[0].runId]) : [{ n: 0 }];
          expect(killed, `${where}: rows the killed run committed = its recorded batches`).toBe(Number(batches[0]!.n));
        }
        if (op === 'http') {
          const rows = await liveRows(lake, `child/${cfg.dataset}`);
          expect({ n: rows.n, ids: rows.ids }, `${where}: killed + re-run incremental extract hold each record once`).toEqual({ n: HTTP_RECORDS, ids: HTTP_RECORDS });
        }
        if (op === 'build' || op === 'compact' || op === 'prune') {
          const build = await lake.build();
          expect(build.models.filter((m) => m.status === 'error'), where).toEqual([]);
          expect(build.status, where).toBe('success');
          const [totals] = await lake.query('SELECT n, ids FROM marts.order_totals');
          const bronze = await liveRows(lake, 'files/orders');
          expect({ n: Number(totals!.n), ids: Number(totals!.ids) }, `${where}: trusted.orders holds every id once`).toEqual({ n: bronze.ids, ids: bronze.ids });
        }
        if (op === 'compact') {
          const after = await liveRows(lake, 'files/orders');
          expect({ n: after.n, dupes: after.dupes, perRun: after.perRun }, `${where}: compaction keeps every row once`).toEqual({ n: before!.n, dupes: 0, perRun: before!.perRun });
          // New small files for the next compaction.
          expect((await runOp(lake, config('csv', trial))).status).toBe('success');
        }
        if (op === 'prune') {
          expect((await liveRows(lake, 'old/items')).n, `${where}: pruned`).toBe(0);
          await extractOld(lake);
        }
      } finally {
        await lake.close();
      }
    }
    process.stdout.write(`[kill-anywhere] seed ${SEED}; durations ${JSON.stringify(Object.fromEntries([...duration].map(([k, v]) => [k, Math.round(v)])))}; ${outcomes.join(' ')}\n`);
  }, 480_000);
});

describe('a build killed as it deletes superseded warehouse files', () => {
  it('with retainSupersededMinutes 0, leaves the published catalog reading: no file it names is deleted before the new catalog replaces it', async () => {
    const base = tempDir('duckhouse-kill-gc-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/stg_items.sql': `select id, store, price from {{ source('gc', 'items') }}`,
      'marts/items.sql': `select id, store, price from {{ ref('stg_items') }}`,
    });
    const lake = await Lakehouse.open({ root, models, log: { console: false }, retainSupersededMinutes: 0 });
    try {
      await lake.extract([syntheticItems({ source: 'gc', batches: 1, rowsPerBatch: 100 })]);
      expect((await lake.build()).status).toBe('success');
      await lake.extract([syntheticItems({ source: 'gc', batches: 1, rowsPerBatch: 100, priceShift: 1 })]);
    } finally {
      await lake.close();
    }
    // The next build replaces marts.items' file: killed right after it deletes the old one.
    const c = spawnOp({ root, models, op: 'build', retainSupersededMinutes: 0, killAfterRemoving: `${path.sep}warehouse${path.sep}` });
    const { signal, stderr } = await c.exited;
    expect(signal, `the build deleted a warehouse file: ${stderr}`).toBe('SIGKILL');
    const tables = await readEveryModel(path.join(root, 'analytics.duckdb'));
    expect(tables['marts.items']).toBe(200);
  });
});

describe('a process killed while taking a lock', () => {
  it('a build killed while taking over the lock of a dead build (holding the takeover guard) does not block the next build', async () => {
    const base = tempDir('duckhouse-kill-takeover-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, { 'marts/one.sql': 'select 1 as x' });
    // The lock of a build whose process is gone.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'analytics.duckdb.lock'), JSON.stringify({ host: os.hostname(), pid: dead.pid, procStart: '' }));
    const c = spawnOp({ root, models, op: 'build', killAfterOpening: 'analytics.duckdb.lock.takeover' });
    const { signal, stderr } = await c.exited;
    expect(signal, `killed taking the lock over: ${stderr}`).toBe('SIGKILL');
    const lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: 5_000 });
    try {
      expect((await lake.build()).status).toBe('success');
      expect(strayTmpFiles(root), 'temp files of the dead process, removed at open').toEqual([]);
    } finally {
      await lake.close();
    }
  });

  it('a build killed right after creating its lock file, before writing its owner into it, does not block the next build', async () => {
    const base = tempDir('duckhouse-kill-lock-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/stg_items.sql': `select id, store, price from {{ source('lk', 'items') }}`,
      'marts/items.sql': `select id, store, price from {{ ref('stg_items') }}`,
    });
    let lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      await lake.extract([syntheticItems({ source: 'lk', batches: 1, rowsPerBatch: 100 })]);
    } finally {
      await lake.close();
    }
    const c = spawnOp({ root, models, op: 'build', killAfterOpening: 'analytics.duckdb.lock' });
    const { signal, stderr } = await c.exited;
    expect(signal, `killed taking the build lock: ${stderr}`).toBe('SIGKILL');
    // Its process is dead: the lock is taken over at once, not after lockTimeoutMillis (a LockError).
    lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: 5_000 });
    try {
      const build = await lake.build();
      expect(build.status).toBe('success');
      expect(await lake.query('SELECT count(*) AS n FROM marts.items')).toEqual([{ n: 100 }]);
      expect(strayTmpFiles(root), 'temp files of the dead process, removed at open').toEqual([]);
    } finally {
      await lake.close();
    }
  });
});

describe('a crash during the recovery of a crash', () => {
  it('an extract killed between commit steps, then the next open killed while recovering it: the open after recovers the run whole', async () => {
    const random = seededRandom(SEED + 1);
    const base = tempDir('duckhouse-kill-recover-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    fs.mkdirSync(models, { recursive: true });
    const { csvGlob } = writeInputs(path.join(base, 'in'));
    const extract: OpsConfig = { root, models, op: 'csv', input: csvGlob, flushRows: 1_000, retainSupersededMinutes: 0 };
    const calibration = spawnOp(extract);
    const { code, stderr } = await calibration.exited;
    expect(code, stderr).toBe(0);
    const ops = (JSON.parse(calibration.lines.find((l) => l.startsWith('{"result"'))!) as { fileOps: number }).fileOps;
    for (let trial = 0; trial < scaled(2, 6); trial++) {
      const at = 1 + Math.floor(random() * ops);
      const first = spawnOp({ ...extract, killAfterFileOp: at });
      const pid = first.process.pid!;
      expect((await first.exited).signal, `extract killed at file op ${at}`).toBe('SIGKILL');
      // The next process is killed at one of its first file operations: its open's recovery.
      const during = 1 + Math.floor(random() * 6);
      const second = spawnOp({ root, models, op: 'build', countFromOpen: true, killAfterFileOp: during });
      const { signal } = await second.exited;
      const where = `trial ${trial}: extract killed at file op ${at}/${ops}, the next open at file op ${during} (${signal ?? 'finished'}), seed ${SEED}`;
      expect(Object.keys(await readEveryTableWhole(path.join(root, 'metrics', 'runs.duckdb'))), `${where}: metrics/runs.duckdb reads whole`).toContain('main.runs');
      const lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: LOCK_TIMEOUT_MILLIS });
      try {
        expect(strayTmpFiles(root), where).toEqual([]);
        const runs = await runsOfPid(lake, pid);
        // Killed at its last steps, the run may have recorded its finish: never `running`.
        expect(runs.filter((r) => r.status !== 'abandoned' && r.status !== 'success'), where).toEqual([]);
        await expectRecordedBronze(lake);
        const rows = await liveRows(lake, 'files/orders');
        expect(rows.dupes, where).toBe(0);
        if (runs[0]) {
          const [batches] = await lake.metrics.select('SELECT coalesce(sum(rows), 0) AS n, count(*) AS batches FROM source_batches WHERE run_id = $1', [runs[0].runId]);
          expect(rows.perRun.get(runs[0].runId) ?? 0, `${where}: the killed run's bronze rows = its recorded batches`).toBe(Number(batches!.n));
        }
        expect(listFiles(lake.paths.tmp).filter((f) => !f.startsWith(`p${process.pid}-`)), `${where}: .tmp/ recovered`).toEqual([]);
      } finally {
        await lake.close();
      }
    }
  }, 480_000);
});
