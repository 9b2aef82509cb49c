/**
 * The run history read straight from `<root>/metrics/runs.duckdb`, without opening the lakehouse:
 * no recovery, no writes, and none of the engine's JavaScript. `duckhouse runs` answers from here,
 * so its cold start is DuckDB's own (the native bindings, one READ_ONLY open, one query) plus a few
 * milliseconds; `@duckdb/node-api`, zod and the rest of duckhouse are never loaded.
 *
 * A `running` run whose process is gone reads as `abandoned` (or as it finished, when only its finish
 * record failed), as `Lakehouse.open` would mark it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as Bindings from '@duckdb/node-bindings';
import { ENGINE_SETTINGS, fileQueueKey, retryOnLock, serialized } from '../db/file-queue.js';
import { ConfigError } from '../errors.js';
import { metricsFileError } from './corrupt.js';
import { redactString } from '../redact.js';
import { didYouMean } from '../transform/suggest.js';
import { currentProcess, isAlive } from './process-identity.js';
import { readRunResult, readUnrecordedFinish, type UnrecordedFinish } from './run-results.js';
import type { RunKind, RunRecord, RunStatus } from './metrics-db.js';

export interface RunHistoryOptions {
  /** The lake's root folder. Default `data`. */
  root?: string;
  /** How many runs, newest first. Default 20. */
  limit?: number;
  /** How long to wait for a writer holding the file. Default 30,000 ms. */
  lockTimeoutMillis?: number;
  /** Read each run's full result (a JSON file per run). Default true; `false` leaves `result` null. */
  results?: boolean;
  /**
   * A `running` run recorded by another host (whose process cannot be checked from here) reads as
   * abandoned once it has recorded nothing for this many hours. Default 24, as `Lakehouse.open`'s option.
   */
  otherHostAbandonHours?: number;
}

/** The default of `otherHostAbandonHours`. */
export const OTHER_HOST_ABANDON_HOURS = 24;

/** The message `Lakehouse.open` records for a run whose process died. */
export const ABANDONED_ERROR = 'the process running it died before it finished';

let duckdb: typeof Bindings | undefined;
const bindings = (): typeof Bindings => (duckdb ??= createRequire(import.meta.url)('@duckdb/node-bindings') as typeof Bindings);

const decoder = new TextDecoder();

/** One VARCHAR column of a materialized result, every row, as strings (DuckDB's 16-byte string_t). */
function varcharColumn(db: typeof Bindings, result: Bindings.Result): string[] {
  const out: string[] = [];
  const chunks = db.result_chunk_count(result);
  for (let i = 0; i < chunks; i += 1) {
    const chunk = db.result_get_chunk(result, i);
    const size = db.data_chunk_get_size(chunk);
    const data = db.vector_get_data(db.data_chunk_get_vector(chunk, 0), size * 16);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let r = 0; r < size; r += 1) {
      const offset = r * 16;
      const length = view.getUint32(offset, true);
      const bytes = length <= 12 ? new Uint8Array(data.buffer, data.byteOffset + offset + 4, length) : db.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + offset + 8, length);
      out.push(decoder.decode(bytes));
    }
  }
  return out;
}

function openReadOnly(db: typeof Bindings, file: string, lockTimeoutMillis: number): Promise<Bindings.Database> {
  return retryOnLock(file, lockTimeoutMillis, () => {
    const config = db.create_config();
    for (const [name, value] of Object.entries({ ...ENGINE_SETTINGS, access_mode: 'READ_ONLY' })) db.set_config(config, name, value);
    return db.open(file, config);
  });
}

/**
 * `openReadOnly`, and if a checkpoint a kill stopped left the file damaged, puts back the copy taken
 * before it (last-checkpoint.ts) as a lake's open would; Node's warning says so (no logger here).
 */
async function openReadOnlyRestoring(db: typeof Bindings, file: string, lockTimeoutMillis: number): Promise<Bindings.Database> {
  let database: Bindings.Database | undefined;
  const open = async (): Promise<void> => {
    database = await openReadOnly(db, file, lockTimeoutMillis);
  };
  try {
    await open();
  } catch (error) {
    // Loaded only then: `duckhouse runs` starts cold on this path.
    const { restoreLastCheckpoint } = await import('./last-checkpoint.js');
    const restored = await restoreLastCheckpoint(file, error, open, lockTimeoutMillis);
    if (restored === false) throw error;
    if (restored !== 'opened') process.emitWarning(restored.restored, { code: 'DUCKHOUSE_METRICS_RESTORED' });
  }
  return database!;
}

/**
 * Whether a run recorded as running lost its process, on this host: it reads as abandoned (see
 * `readDeadRuns`, which also judges runs of other hosts).
 */
export function isDeadRun(r: { status?: unknown; host?: unknown; pid?: unknown; proc_start?: unknown }): boolean {
  return r.status === 'running' && !isAlive({ host: r.host as string | null, pid: r.pid as number | null, procStart: r.proc_start as string | null });
}

/**
 * Whose batches a dead run counts: its own, or for a `lake.run()` pipeline, its extract's (named by
 * the partial result it stores when the extract starts).
 */
export function batchesOf(metricsFile: string, run: { run_id: string; kind: unknown }): string {
  const extract = run.kind === 'run' ? (readRunResult(metricsFile, run.run_id) as { extract?: unknown } | null)?.extract : undefined;
  return typeof extract === 'string' ? extract : run.run_id;
}

const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * What `Lakehouse.open` records for each dead run (markAbandoned), as rows `(run_id, rows,
 * rejected, files, bytes, last_t, started_at)`: the totals of the batches it counts, and its end
 * at its last recorded activity (`last_t`), not when it was noticed. `dead` pairs each run with
 * whose batches it counts (`batchesOf`).
 */
export const DEAD_RUNS = (dead: [runId: string, batchesOf: string][], has: (table: string) => boolean = () => true): string => `
  SELECT d.run_id,
    (SELECT coalesce(sum(rows), 0) FROM source_batches WHERE run_id = d.batches_of) AS rows,
    (SELECT coalesce(sum(rejected), 0) FROM source_batches WHERE run_id = d.batches_of) AS rejected,
    (SELECT coalesce(sum(files), 0) FROM source_batches WHERE run_id = d.batches_of) AS files,
    (SELECT coalesce(sum(bytes), 0) FROM source_batches WHERE run_id = d.batches_of) AS bytes,
    last.t AS last_t, last.started_at
  FROM (VALUES ${dead.map(([id, of]) => `(${literal(id)}, ${literal(of)})`).join(', ')}) AS d(run_id, batches_of),
  LATERAL (SELECT (SELECT started_at FROM runs WHERE run_id = d.run_id) AS started_at, (SELECT max(t) FROM (
      SELECT max(committed_at) AS t FROM source_batches WHERE run_id IN (d.run_id, d.batches_of)
      UNION ALL SELECT max(finished_at) FROM source_results WHERE run_id IN (d.run_id, d.batches_of)
      ${has('model_builds') ? 'UNION ALL SELECT max(finished_at) FROM model_builds WHERE run_id = d.run_id' : ''}
      ${has('test_results') ? 'UNION ALL SELECT max(finished_at) FROM test_results WHERE run_id = d.run_id' : ''}
      UNION ALL SELECT started_at FROM runs WHERE run_id = d.run_id)) AS t) AS last`;

/** `DEAD_RUNS` as one JSON text a run (`DeadRunJson`, times in epoch ms), for the readers. */
export const DEAD_RUNS_SQL = (dead: [runId: string, batchesOf: string][], has?: (table: string) => boolean): string => `
  SELECT to_json({
    run_id: run_id, rows: rows, rejected: rejected, files: files, bytes: bytes,
    started_at: epoch_ms(started_at), finished_at: epoch_ms(last_t), duration_ms: epoch_ms(last_t) - epoch_ms(started_at)
  })::VARCHAR AS dead_run
  FROM (${DEAD_RUNS(dead, has)})`;

export interface DeadRunJson {
  run_id: string;
  rows: number;
  rejected: number;
  files: number;
  bytes: number;
  started_at: number;
  finished_at: number;
  duration_ms: number;
}

/**
 * How a `running` run whose process is gone reads, and what `Lakehouse.open` records for it: as it
 * finished when only its finish record failed (its `.finish` file, see `finishRun`), else
 * `abandoned` with what its committed batches hold, ended at its last recorded activity.
 */
export interface DeadRunReading {
  runId: string;
  status: RunStatus;
  /** Epoch ms. */
  finishedAt: number;
  durationMs: number;
  rows: number;
  rejected: number;
  files: number;
  bytes: number;
  error: string | null;
  /** The finish it could not record, when it finished. */
  finish: UnrecordedFinish | null;
}

/** A row of `runs` as far as telling a dead run goes. */
export interface RunOwnerRow {
  run_id: string;
  kind: unknown;
  status: unknown;
  host: unknown;
  pid: unknown;
  proc_start: unknown;
}

/**
 * The one reading of dead runs, shared by every reader (`runHistory` and `lake.runs()`, the report's
 * runs section) and by the writer (`markAbandoned`), so that they all say the same. A run of this
 * host is dead when its process is gone. One of another host (a shared volume, or this machine's
 * old hostname in a recreated container) cannot be checked: it is dead once its last recorded
 * activity (or its unrecorded finish) is older than `otherHostAbandonHours`. `query` runs
 * one SELECT on the metrics database and returns its one VARCHAR column; `tables`, asked only when
 * a run is dead, says which tables it holds (a file of the first versions has no model_builds or
 * test_results; by default, all).
 */
export async function readDeadRuns(
  metricsFile: string,
  runs: RunOwnerRow[],
  query: (sql: string) => Promise<string[]>,
  tables?: () => Promise<Set<string>>,
  otherHostAbandonHours = OTHER_HOST_ABANDON_HOURS,
): Promise<Map<string, DeadRunReading>> {
  const readings = new Map<string, DeadRunReading>();
  const here = currentProcess().host;
  const otherHost = (r: RunOwnerRow): boolean => r.status === 'running' && typeof r.host === 'string' && r.host !== here;
  const dead = runs.filter((r) => otherHost(r) || isDeadRun(r));
  if (dead.length === 0) return readings;
  const quietSince = Date.now() - otherHostAbandonHours * 3_600_000;
  const foreign = new Set(dead.filter(otherHost).map((r) => r.run_id));
  const present = await tables?.();
  const has = present ? (t: string) => present.has(t) : undefined;
  for (const json of await query(DEAD_RUNS_SQL(dead.map((r) => [r.run_id, batchesOf(metricsFile, r)]), has))) {
    const d = JSON.parse(json) as DeadRunJson;
    const finish = readUnrecordedFinish(metricsFile, d.run_id);
    if (foreign.has(d.run_id) && Math.max(d.finished_at, finish?.finishedAt ?? 0) > quietSince) continue;
    readings.set(
      d.run_id,
      finish
        ? {
            runId: d.run_id, status: finish.status as RunStatus, finishedAt: finish.finishedAt, durationMs: finish.finishedAt - d.started_at,
            rows: finish.rows, rejected: finish.rejected, files: finish.files, bytes: finish.bytes, error: finish.error, finish,
          }
        : {
            runId: d.run_id, status: 'abandoned', finishedAt: d.finished_at, durationMs: d.duration_ms,
            rows: d.rows, rejected: d.rejected, files: d.files, bytes: d.bytes, error: ABANDONED_ERROR, finish: null,
          },
    );
  }
  return readings;
}

const SELECT_RUNS = (limit: number, results: boolean): string => `
  SELECT to_json({
    run_id: run_id, kind: kind, status: status,
    started_at: epoch_ms(started_at), finished_at: epoch_ms(finished_at), duration_ms: duration_ms,
    rows: rows, rejected: rejected, files: files, bytes: bytes, error: error, result: ${results ? 'result' : 'NULL'},
    host: host, pid: pid, proc_start: proc_start
  })::VARCHAR
  FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ${limit}`;

interface RunJson {
  run_id: string;
  kind: RunKind;
  status: RunStatus;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  rows: number | null;
  rejected: number | null;
  files: number | null;
  bytes: number | null;
  error: string | null;
  result: unknown;
  host: string | null;
  pid: number | null;
  proc_start: string | null;
}

function toRecord(r: RunJson, metricsFile: string, results: boolean, dead: DeadRunReading | undefined): RunRecord {
  return {
    runId: r.run_id,
    kind: r.kind,
    status: dead ? dead.status : r.status,
    startedAt: new Date(r.started_at),
    finishedAt: dead ? new Date(dead.finishedAt) : r.finished_at === null ? null : new Date(r.finished_at),
    durationMs: dead ? dead.durationMs : r.duration_ms,
    rows: (dead ?? r).rows ?? 0,
    rejected: (dead ?? r).rejected ?? 0,
    files: (dead ?? r).files ?? 0,
    bytes: (dead ?? r).bytes ?? 0,
    // Rows written before errors were redacted on the way in (or by another client) are scrubbed on the way out.
    error: dead ? dead.error : r.error === null ? null : redactString(r.error),
    // Older metrics files kept the result in the row (not selected without `results`); newer runs keep it in a file.
    result: results ? (r.result ?? readRunResult(metricsFile, r.run_id)) : null,
  };
}

const RUN_HISTORY_OPTIONS: readonly string[] = ['root', 'limit', 'lockTimeoutMillis', 'results', 'otherHostAbandonHours'] satisfies (keyof RunHistoryOptions)[];

/**
 * The latest runs of the lake under `root`, newest first, read-only. An empty list when the lake
 * has no metrics database yet.
 * @example
 * import { runHistory } from 'duckhouse';
 * const [last] = await runHistory({ root: 'data', limit: 1 });
 */
export async function runHistory(options: RunHistoryOptions = {}): Promise<RunRecord[]> {
  // As config.ts's checkOptionKeys (not imported: it loads zod): a misspelt key is no silent default.
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new ConfigError(`runHistory: options must be an object (got ${options === null ? 'null' : typeof options})`);
  const unknown = Object.keys(options).filter((k) => !RUN_HISTORY_OPTIONS.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(`runHistory: ${unknown.map((k) => `unknown option "${k}"${didYouMean(k, RUN_HISTORY_OPTIONS)}`).join('; ')} (known: ${RUN_HISTORY_OPTIONS.join(', ')})`);
  }
  const root = options.root ?? 'data';
  if (typeof root !== 'string' || root === '') throw new ConfigError(`runHistory: option "root" must be a non-empty string (got ${JSON.stringify(root)})`);
  const results = options.results ?? true;
  if (typeof results !== 'boolean') throw new ConfigError(`runHistory: option "results" must be true or false (got ${JSON.stringify(results)})`);
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`runHistory: option "limit" must be a positive integer (got ${String(limit)})`);
  const lockTimeoutMillis = options.lockTimeoutMillis ?? 30_000;
  if (!Number.isInteger(lockTimeoutMillis) || lockTimeoutMillis < 1) throw new ConfigError(`runHistory: option "lockTimeoutMillis" must be a positive integer (got ${String(lockTimeoutMillis)})`);
  const abandonHours = options.otherHostAbandonHours ?? OTHER_HOST_ABANDON_HOURS;
  if (typeof abandonHours !== 'number' || !(abandonHours > 0) || !Number.isFinite(abandonHours)) {
    throw new ConfigError(`runHistory: option "otherHostAbandonHours" must be a positive number (got ${String(abandonHours)})`);
  }
  return readRuns(path.resolve(root, 'metrics', 'runs.duckdb'), limit, lockTimeoutMillis, results, abandonHours);
}

/** The latest `limit` runs recorded in the metrics database `file` (absolute), newest first. */
export async function readRuns(file: string, limit: number, lockTimeoutMillis: number, results = true, otherHostAbandonHours = OTHER_HOST_ABANDON_HOURS): Promise<RunRecord[]> {
  if (!fs.existsSync(file)) return [];
  return serialized(fileQueueKey(file), () => readRunsNow(file, limit, lockTimeoutMillis, results, otherHostAbandonHours).catch((error: unknown) => {
    throw metricsFileError(file, error);
  }));
}

async function readRunsNow(file: string, limit: number, lockTimeoutMillis: number, results: boolean, otherHostAbandonHours: number): Promise<RunRecord[]> {
  const db = bindings();
  const database = await openReadOnlyRestoring(db, file, lockTimeoutMillis);
  let connection: Bindings.Connection | undefined;
  try {
    connection = await db.connect(database);
    let result: Bindings.Result;
    try {
      result = await db.query(connection, SELECT_RUNS(limit, results));
    } catch (error) {
      // A metrics file created by a process killed before its first table: no runs yet.
      if (/Table with name runs does not exist/i.test((error as Error).message)) return [];
      throw error;
    }
    const runs = varcharColumn(db, result).map((json) => JSON.parse(json) as RunJson);
    const c = connection;
    const column = async (sql: string): Promise<string[]> => varcharColumn(db, await db.query(c, sql));
    // A file of the first versions, not yet opened by this one, has no model_builds or test_results.
    const tables = async (): Promise<Set<string>> => new Set(await column(`SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()`));
    const dead = await readDeadRuns(file, runs, column, tables, otherHostAbandonHours);
    return runs.map((r) => toRecord(r, file, results, dead.get(r.run_id)));
  } finally {
    if (connection) db.disconnect_sync(connection);
    db.close_sync(database);
  }
}
