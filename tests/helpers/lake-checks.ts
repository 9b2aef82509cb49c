/**
 * Invariants of a lake on disk, shared by the crash, concurrency, fault and hostile-input
 * suites: bronze holds only whole, committed, recorded Parquet files; the warehouse holds only
 * whole Parquet files; the published catalog is complete; nothing changed where it should not.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Lakehouse, RunRecord } from '../../src/index.js';
import { listFiles } from './temp-lake.js';

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Something that runs a read-only SQL query: `(sql) => lake.query(sql)`, or `memoryQuery`. */
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/**
 * Runs `fn` with a query function on a fresh in-memory DuckDB (no lake opened): to look at a
 * lake's files right after a crash, before the next `Lakehouse.open` recovers anything.
 */
export async function withMemoryQuery<T>(fn: (query: Query) => Promise<T>): Promise<T> {
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  try {
    return await fn(async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Row counts of Parquet files (absolute paths), read from their footers; throws on a partial file. */
export async function parquetRows(query: Query, files: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < files.length; i += 200) {
    const chunk = files.slice(i, i + 200);
    const rows = await query(`SELECT file_name AS file, num_rows AS n FROM parquet_file_metadata([${chunk.map(sqlString).join(', ')}])`);
    for (const r of rows) out.set(String(r.file), Number(r.n));
  }
  return out;
}

/**
 * Bronze as committed: every file under `bronze/` is a whole Parquet file listed in
 * `bronze_files` with its row count; every listed file is there; `source_batches` counts the
 * same rows per run; `.tmp/` holds only folders of live processes. Returns the totals.
 */
export async function expectCommittedBronze(lake: Lakehouse): Promise<{ files: number; rows: number }> {
  const onDisk = listFiles(lake.paths.bronze).map((f) => path.join('bronze', f));
  const listed = await lake.metrics.select('SELECT path, rows, run_id FROM bronze_files WHERE removed_at IS NULL ORDER BY path');
  expect(onDisk.sort(), 'files under bronze/ are exactly the committed ones').toEqual(listed.map((r) => String(r.path)).sort());
  const counted = await parquetRows((sql) => lake.query(sql), listed.map((r) => path.join(lake.paths.root, String(r.path))));
  let total = 0;
  const perRun = new Map<string, number>();
  for (const file of listed) {
    const rows = Number(file.rows);
    expect(counted.get(path.join(lake.paths.root, String(file.path))), `rows in ${String(file.path)}`).toBe(rows);
    total += rows;
    perRun.set(String(file.run_id), (perRun.get(String(file.run_id)) ?? 0) + rows);
  }
  const batches = await lake.metrics.select('SELECT run_id, sum(rows) AS rows FROM source_batches GROUP BY run_id HAVING sum(rows) > 0');
  expect(new Map(batches.map((b) => [String(b.run_id), Number(b.rows)])), 'source_batches rows per run = bronze_files rows per run').toEqual(perRun);
  expectOnlyLiveTmp(lake);
  return { files: listed.length, rows: total };
}

/** `.tmp/` holds only the folders of processes still alive (this one included). */
export function expectOnlyLiveTmp(lake: Lakehouse): void {
  for (const entry of fs.readdirSync(lake.paths.tmp)) {
    const owner = path.join(lake.paths.tmp, entry, 'owner.json');
    expect(fs.existsSync(owner), `.tmp/${entry} has an owner`).toBe(true);
    const { pid } = JSON.parse(fs.readFileSync(owner, 'utf8')) as { pid: number };
    expect(isAlive(pid), `.tmp/${entry} belongs to a live process`).toBe(true);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every file under `dir` is a `.parquet` file that DuckDB reads whole (a cut file fails its footer). */
export async function expectWholeParquet(query: Query, dir: string): Promise<string[]> {
  const files = listFiles(dir).map((f) => path.join(dir, f));
  expect(files.filter((f) => !f.endsWith('.parquet')), `only Parquet files under ${dir}`).toEqual([]);
  await parquetRows(query, files);
  return files;
}

/** Files referenced by the published catalog (`_duckhouse.models`) and its pending garbage. */
export async function catalogFiles(lake: Lakehouse): Promise<{ live: Set<string>; garbage: Set<string> }> {
  if (!fs.existsSync(lake.paths.analytics)) return { live: new Set(), garbage: new Set() };
  const models = await lake.query<{ files: string }>('SELECT files FROM _duckhouse.models');
  const garbage = await lake.query<{ path: string }>('SELECT path FROM _duckhouse.garbage');
  return { live: new Set(models.flatMap((m) => JSON.parse(m.files) as string[])), garbage: new Set(garbage.map((g) => g.path)) };
}

/**
 * The warehouse after a crash: only whole Parquet files, and every file the catalog references
 * is there. Returns the files no catalog references (left by a build that never published).
 */
export async function expectWholeWarehouse(lake: Lakehouse): Promise<{ files: string[]; orphans: string[] }> {
  const files = await expectWholeParquet((sql) => lake.query(sql), lake.paths.warehouse);
  const { live, garbage } = await catalogFiles(lake);
  for (const f of live) expect(fs.existsSync(f), `catalog file ${f} exists`).toBe(true);
  return { files, orphans: files.filter((f) => !live.has(f) && !garbage.has(f)) };
}

/**
 * Opens `analytics.duckdb` the way any DuckDB client would (its own instance, READ_ONLY) and
 * runs `sql`. Call it while no lake of this process has the file attached.
 */
export async function readOnlyQuery(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/**
 * Opens a DuckDB file READ_ONLY in its own instance, as any client would (replaying a dead
 * writer's WAL in memory), and reads every column of every table, so that each data block is
 * loaded and its checksum verified (`count(*)` alone reads only row-group counts). Returns the
 * row count per table. Call it while no lake of this process has the file attached.
 */
export async function readEveryTableWhole(file: string): Promise<Record<string, number>> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  try {
    const tables = (await c.runAndReadAll(`SELECT schema_name AS s, table_name AS t FROM duckdb_tables() WHERE database_name = current_database() ORDER BY ALL`)).getRowObjectsJS();
    const out: Record<string, number> = {};
    for (const { s, t } of tables as { s: string; t: string }[]) {
      const rel = `"${s.replace(/"/g, '""')}"."${t.replace(/"/g, '""')}"`;
      const [row] = (await c.runAndReadAll(`SELECT count(*) AS n, count(hash(r)) AS hashed FROM ${rel} AS r`)).getRowObjectsJS();
      expect(Number(row!.hashed), `${file}: every row of ${s}.${t} reads`).toBe(Number(row!.n));
      out[`${s}.${t}`] = Number(row!.n);
    }
    return out;
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** The runs a process recorded (by its pid), newest first. */
export async function runsOfPid(lake: Lakehouse, pid: number): Promise<Pick<RunRecord, 'runId' | 'kind' | 'status'>[]> {
  const rows = await lake.metrics.select('SELECT run_id, kind, status FROM runs WHERE pid = $1 ORDER BY started_at DESC', [pid]);
  return rows.map((r) => ({ runId: String(r.run_id), kind: r.kind as RunRecord['kind'], status: r.status as RunRecord['status'] }));
}

/** Path → sha256 of every file under `dir` (relative paths), for "nothing changed" checks. */
export function treeDigest(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of listFiles(dir)) {
    if (skip(rel)) continue;
    out.set(rel, crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, rel))).digest('hex'));
  }
  return out;
}
