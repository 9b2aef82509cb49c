/**
 * The run database, `<root>/metrics/runs.duckdb`. Every call attaches the file, does its work in
 * one transaction and detaches it, so parallel processes take turns on DuckDB's file lock
 * instead of failing, and never lose a row.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '../db/duckdb.js';
import { ENGINE_SETTINGS, fileQueueKey, holdOpen, retryOnLock, serialized } from '../db/file-queue.js';
import { quoteLiteral } from '../db/quote.js';
import { ABANDONED_ERROR, OTHER_HOST_ABANDON_HOURS, isDeadRun, readDeadRuns, readRuns, type RunOwnerRow } from './run-history.js';
import { runResultFile, unrecordedFinishFile, type StoredFinishExtra, type UnrecordedFinish } from './run-results.js';
import { applyAlerts, applyOutcome, applyRunEnd, recordSchemaChanges, runDriftAlerts, type RecordedOutcome, type SchemaChange } from './alerts.js';
import { writeFileAtomic } from '../bronze/commit.js';
import { readerRows, type Row } from '../db/values.js';
import { redact } from '../redact.js';
import { LockError } from '../errors.js';
import { metricsFileError } from './corrupt.js';
import { LastCheckpoint, lastCheckpointFile, restoreLastCheckpoint } from './last-checkpoint.js';
import { stringifyJsonExact } from '../extract/json-exact.js';
import { cursorFileName } from '../extract/cursor-store.js';
import { METRICS_DDL, SOURCES_FRESHNESS_SQL, UNKEYED, chunks } from './schema.js';
import { currentProcess } from './process-identity.js';
import type { ModelResult, TestResult } from '../results.js';
import type { HttpHostStats } from '../extract/source.js';
import type { BronzeVisibility } from '../transform/source-relation.js';

export type RunStatus = 'running' | 'success' | 'partial' | 'failed' | 'abandoned';
export type RunKind = 'extract' | 'build' | 'test' | 'run' | 'compact' | 'prune';

export interface RunRecord {
  runId: string;
  kind: RunKind;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  rows: number;
  rejected: number;
  files: number;
  bytes: number;
  error: string | null;
  result: unknown;
}

export interface BronzeFileRow {
  path: string;
  partition: Record<string, string | null>;
  rows: number;
  bytes: number;
}

export interface ColumnProfile {
  column: string;
  type: string;
  rows: number;
  nullShare: number;
  approxDistinct: number;
  min: string | null;
  max: string | null;
}

export interface BatchCommit {
  runId: string;
  source: string;
  dataset: string;
  batchNo: number;
  rows: number;
  rejected: number;
  cursor?: unknown;
  /**
   * `cursor` written out (stringifyJsonExact, UTF-8), when the committer has it: the state file,
   * the batch's cursor file under `state/cursors/committing/` and `source_batches` share these bytes
   * instead of each writing out the cursor again (a crawl frontier is megabytes). The commit
   * manifest holds neither (see commit.ts).
   */
  cursorJson?: Uint8Array;
  /** The cursor's scope (constant partition values, see CursorKey); not a column, for recovery. */
  cursorScope?: string;
  files: BronzeFileRow[];
  profiles?: ColumnProfile[];
  /**
   * The run's schema drift, on the first batch it commits (the one that brings the new schema into
   * bronze): recorded in `schema_changes` with the batch, so a run killed after it (or rolled
   * forward by the next open) still has its drift recorded, once.
   */
  schemaChanges?: SchemaChange[];
  /** When it reached its commit point, for a batch recorded later (recovery rolls it forward); default now. */
  committedAt?: Date;
}

export interface FinishFields {
  status: RunStatus;
  rows?: number;
  rejected?: number;
  files?: number;
  bytes?: number;
  error?: string | null;
  result?: unknown;
  /**
   * The run threw before it could do its work (its `error` says why): opens its kind's `run_failed`
   * alert. Any other finish resolves it.
   */
  stopped?: boolean;
}

/**
 * Rows appended with as few statements as the parameter lists allow (one INSERT per 100 rows):
 * a build of the demo records ~650 model and test rows, ~1 ms each as single INSERTs.
 * Each row gets `now()` (or the instant `at`, epoch ms) as its last column; text goes into JSON columns as it is.
 */
async function insertRows(c: DuckDBConnection, table: string, rows: DuckDBValue[][], at?: number): Promise<void> {
  const when = at === undefined ? 'now()' : `to_timestamp(${Number(at)}::DOUBLE / 1000)`;
  for (const chunk of chunks(rows)) {
    let n = 0;
    const values = chunk.map((row) => `(${row.map(() => `$${++n}`).join(', ')}, ${when})`);
    await c.run(`INSERT INTO ${table} VALUES ${values.join(', ')}`, chunk.flat());
  }
}

async function insertModels(c: DuckDBConnection, runId: string, models: ModelResult[], hashes: Map<string, string>, at?: number): Promise<void> {
  await insertRows(
    c,
    'model_builds',
    models.map((m) => [
      runId, m.name, m.file, m.materialization, m.status, m.rows, Math.round(m.durationMs),
      m.error ? (redact(m.error) as string) : null, m.skippedBecause ?? null, hashes.get(m.name) ?? null,
    ]),
    at,
  );
}

async function insertTests(c: DuckDBConnection, runId: string, tests: TestResult[], at?: number): Promise<void> {
  await insertRows(
    c,
    'test_results',
    tests.map((t) => [
      runId, t.name, t.model, t.column ?? null, t.kind, t.severity, t.status, t.failures, t.measured ?? null, t.error ? (redact(t.error) as string) : null,
    ]),
    at,
  );
}

async function insertRun(c: DuckDBConnection, runId: string, kind: RunKind, startedAt: Date): Promise<void> {
  const me = currentProcess();
  await c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, $2, 'running', $3::TIMESTAMPTZ, $4, $5, $6)`, [
    runId, kind, startedAt.toISOString(), me.host, me.pid, me.procStart,
  ]);
}

// One row of five values, however many files compaction and prune touched and however many
// batches the runs in progress committed.
const VISIBILITY_SQL = `WITH running AS (SELECT run_id FROM runs WHERE status = 'running')
  SELECT string_agg(path, '\n') FILTER (WHERE removed_at IS NOT NULL) AS removed,
    string_agg(path, '\n') FILTER (WHERE removed_at IS NULL AND batch_no = 0) AS compacted, min(removed_at) AS first_removed_at,
    string_agg(path, '\n') FILTER (WHERE removed_at IS NULL AND batch_no > 0) AS in_progress,
    (SELECT string_agg(run_id, '\n') FROM running) AS running
  FROM bronze_files WHERE removed_at IS NOT NULL OR batch_no = 0 OR run_id IN (SELECT run_id FROM running)`;

function toVisibility(rows: Row[]): BronzeVisibility {
  const [r] = rows;
  const lines = (v: unknown): string[] => (typeof v === 'string' && v.length > 0 ? v.split('\n') : []);
  return {
    removed: new Set(lines(r?.removed)),
    compacted: new Set(lines(r?.compacted)),
    firstRemovedAt: (r?.first_removed_at as Date | null | undefined) ?? null,
    running: new Set(lines(r?.running)),
    recordedOfRunning: new Set(lines(r?.in_progress)),
  };
}

/**
 * What `finishRun` writes besides the run's row, in the same transaction (no checkpoint of their
 * own). Plain data: a finish that cannot be written keeps it in its `.finish` file.
 */
export interface FinishExtra {
  models?: ModelResult[];
  hashes?: Map<string, string>;
  tests?: TestResult[];
  quality?: { model: string; rows: number; dimensions: Record<string, number | null>; score: number | null }[];
  /** The run's alerts (a build's or test run's `outcomeAlerts`). */
  alerts?: RecordedOutcome;
}

/**
 * Writes a finish's other rows (`extra`) as of `at` (epoch ms; default now). The alerts of a finish
 * recorded late (`at`) are applied only while no build or test run finished after it: a later
 * outcome already opened and resolved the alerts of the same models and tests.
 */
async function insertFinishExtra(c: DuckDBConnection, runId: string, extra: FinishExtra, at?: number): Promise<void> {
  await insertRows(
    c,
    'quality_scores',
    (extra.quality ?? []).map(({ model, rows, dimensions: d, score }) => [
      runId, model, rows, d.completeness ?? null, d.uniqueness ?? null, d.validity ?? null, d.accuracy ?? null, d.conformity ?? null, d.consistency ?? null, d.integrity ?? null, d.timeliness ?? null, score,
    ]),
    at,
  );
  if (extra.models) await insertModels(c, runId, extra.models, extra.hashes ?? new Map(), at);
  if (extra.tests) await insertTests(c, runId, extra.tests, at);
  if (!extra.alerts) return;
  if (at !== undefined) {
    const later = readerRows(
      await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM runs WHERE kind IN ('build', 'test') AND status <> 'running' AND run_id <> $1 AND finished_at > to_timestamp($2::DOUBLE / 1000)`, [runId, at]),
    );
    if (Number(later[0]?.n) > 0) return;
  }
  await applyOutcome(c, runId, extra.alerts, at === undefined ? undefined : new Date(at));
}

/** `FinishExtra` as the `.finish` file keeps it (JSON: the hashes as pairs, every text redacted). */
function storedExtra(extra: FinishExtra): StoredFinishExtra {
  const { hashes, ...rest } = extra;
  return redact({ ...rest, ...(hashes ? { hashes: [...hashes] } : {}) }) as StoredFinishExtra;
}

function finishExtraOf(stored: StoredFinishExtra): FinishExtra {
  const { hashes, ...rest } = stored;
  return { ...rest, ...(hashes ? { hashes: new Map(hashes) } : {}) };
}

const METRICS_ALIAS = 'duckhouse_metrics';

/** The largest cursor kept in `source_batches` (a crawl's frontier can be far larger). */
export const MAX_RECORDED_CURSOR_BYTES = 16 * 1024;

/**
 * A batch's cursor as `source_batches` records it, redacted. The cursor that counts lives in the
 * source's state file; this copy is for reading the history. One larger than 16 KB (an `htmlSource`
 * frontier) is replaced by a note of its size, the size of its JSON as the state file holds it:
 * appended rows that large would make every later checkpoint rewrite them (see schema.ts). `json`:
 * the cursor already written out (see `BatchCommit.cursorJson`).
 */
function recordedCursor(batch: BatchCommit): string | null {
  const { cursor, cursorJson: json } = batch;
  if (cursor === undefined) return null;
  const size = json?.length ?? Buffer.byteLength(stringifyJsonExact(cursor));
  // The note holds nothing of the cursor: a frontier is not redacted whole only to be dropped.
  if (size > MAX_RECORDED_CURSOR_BYTES) return omittedCursor(batch, size);
  // A next-page link may carry the token (`paging.next` with `access_token=`): the state file keeps
  // it to resume, the history does not. `redact` works value by value, so the JSON stays valid.
  const redacted = stringifyJsonExact(redact(cursor));
  const bytes = Buffer.byteLength(redacted);
  return bytes <= MAX_RECORDED_CURSOR_BYTES ? redacted : omittedCursor(batch, bytes);
}

/** The note naming the state file (relative to the lake's root, as `bronze_files.path`): a scoped cursor's own. */
function omittedCursor(batch: BatchCommit, bytes: number): string {
  const file = cursorFileName({ source: batch.source, dataset: batch.dataset, ...(batch.cursorScope === undefined ? {} : { scope: batch.cursorScope }) });
  return JSON.stringify({ omitted: `larger than 16 KB: state/cursors/${file} holds the current one`, bytes });
}

/**
 * Rebuilds, without their PRIMARY KEY, the tables an earlier version created with one (see
 * schema.ts): renamed aside, created from the current DDL, copied by column name, dropped. The
 * run results those versions kept in `runs.result` move to their files (run-results.ts) on the
 * way. One transaction; a no-op once done.
 */
async function dropKeys(c: DuckDBConnection, metricsFile: string): Promise<void> {
  const keyed = readerRows(
    await c.runAndReadAll(
      `SELECT DISTINCT table_name FROM duckdb_constraints() WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY' AND table_name IN (${UNKEYED.map((t) => `'${t}'`).join(', ')})`,
    ),
  ).map((r) => String(r.table_name));
  if (keyed.length === 0) return;
  await c.run('BEGIN TRANSACTION');
  try {
    for (const table of keyed) {
      const ddl = METRICS_DDL.find((d) => new RegExp(`^CREATE TABLE IF NOT EXISTS ${table} \\(`).test(d))!;
      await c.run(`ALTER TABLE ${table} RENAME TO ${table}_keyed`);
      await c.run(ddl);
      if (table === 'runs') {
        // In pages, so that years of build results never sit in memory at once.
        for (let offset = 0; ; offset += 200) {
          const page = readerRows(await c.runAndReadAll(`SELECT run_id, result::VARCHAR AS result FROM runs_keyed WHERE result IS NOT NULL ORDER BY run_id LIMIT 200 OFFSET ${offset}`));
          for (const r of page) {
            const file = runResultFile(metricsFile, String(r.run_id));
            if (!fs.existsSync(file)) writeFileAtomic(file, String(r.result));
          }
          if (page.length < 200) break;
        }
        await c.run(`INSERT INTO runs BY NAME SELECT * REPLACE (NULL::JSON AS result) FROM runs_keyed`);
      } else await c.run(`INSERT INTO ${table} BY NAME SELECT * FROM ${table}_keyed`);
      await c.run(`DROP TABLE ${table}_keyed`);
    }
    await c.run('COMMIT');
  } catch (error) {
    await c.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** What a build reads from the metrics db at its start. */
export interface BuildInputs {
  visibility: BronzeVisibility;
  /**
   * When each source of a dataset last extracted successfully (`source.dataset` → one instant per
   * current scope, `store=a`; null for a scope never extracted successfully).
   */
  lastSuccess: Map<string, (Date | null)[]>;
  /** Each model's latest quality score (`schema.name` → score): the gate of a build that rebuilds nothing. */
  lastScores: Map<string, RecordedScore>;
}

const LAST_SCORES_SQL = `SELECT model, score, rows FROM quality_scores QUALIFY row_number() OVER (PARTITION BY model ORDER BY computed_at DESC) = 1`;

/** A model's latest quality score, and the rows it was measured on. */
export interface RecordedScore {
  score: number | null;
  rows: number | null;
}

const scoreMap = (rows: Row[]): Map<string, RecordedScore> =>
  new Map(rows.map((r) => [String(r.model), { score: r.score === null ? null : Number(r.score), rows: r.rows === null || r.rows === undefined ? null : Number(r.rows) }]));

async function readBuildInputs(c: DuckDBConnection): Promise<BuildInputs> {
  const visibility = toVisibility(readerRows(await c.runAndReadAll(VISIBILITY_SQL)));
  const lastSuccess = new Map<string, (Date | null)[]>();
  for (const r of readerRows(await c.runAndReadAll(SOURCES_FRESHNESS_SQL))) {
    if (r.superseded === true) continue;
    const key = `${r.source}.${r.dataset}`;
    // A retired store (dropped from the config) is left out, as its freshness alerts are; a dataset
    // all retired is one with no source to judge (not one never extracted, as a missing one is).
    if (r.retired === true) {
      if (!lastSuccess.has(key)) lastSuccess.set(key, []);
      continue;
    }
    lastSuccess.set(key, [...(lastSuccess.get(key) ?? []), r.last_ok instanceof Date ? r.last_ok : null]);
  }
  return { visibility, lastSuccess, lastScores: scoreMap(readerRows(await c.runAndReadAll(LAST_SCORES_SQL))) };
}

/**
 * How long a build's start leaves the file attached for the next transaction of the same lake
 * (see `inTransaction`), and for how long in all one attachment may be reused:
 * another process waits at most about that much longer for the file.
 */
const LINGER_MILLIS = 100;
const MAX_HOLD_MILLIS = 1_000;

/** When a transaction's promise resolves and what it leaves behind: see `inTransaction`. */
type Settle = 'detached' | 'committed' | 'held';

export class MetricsDb {
  private initialized = false;

  constructor(
    readonly file: string,
    private readonly lockTimeoutMillis: number,
    /** How long a `running` run of another host may record nothing before it reads as abandoned (`readDeadRuns`). */
    readonly otherHostAbandonHours = OTHER_HOST_ABANDON_HOURS,
    /** Told when the file, damaged by a checkpoint a kill stopped, was restored (see last-checkpoint.ts). */
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.lastCheckpoint = new LastCheckpoint(path.resolve(file));
  }

  /** The copy of the file its checkpoints start from (see last-checkpoint.ts). */
  private readonly lastCheckpoint: LastCheckpoint;

  /** An in-memory DuckDB that attaches the file for each transaction (created on first use). */
  private host?: Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }>;

  private connectHost(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
    this.host ??= (async () => {
      // The file changes only at the detach's checkpoint, after the copy that can undo it
      // (last-checkpoint.ts), which runs while the transaction writes: no checkpoint at a commit,
      // however large (nor one instead of the log), and no large append written into the file before it.
      const instance = await DuckDBInstance.create(':memory:', {
        ...ENGINE_SETTINGS,
        threads: '2',
        checkpoint_threshold: '1TB',
        auto_checkpoint_skip_wal_threshold: String(Number.MAX_SAFE_INTEGER),
        enable_optimistic_write: 'false',
      });
      return { instance, connection: await instance.connect() };
    })();
    return this.host;
  }

  /**
   * Runs `fn` inside one transaction. The file is attached to a long-lived in-memory instance
   * and detached after the commit — ~35 % cheaper than creating and closing an instance per call,
   * and the detach (which checkpoints) runs on DuckDB's threads instead of blocking the event loop.
   */
  async transaction<T>(
    fn: (c: DuckDBConnection) => Promise<T>,
    /** False for a read: no copy of the file is begun ahead of its detach (one is made there if it wrote after all). */
    writes = true,
  ): Promise<T> {
    return this.inTransaction(fn, 'detached', writes);
  }

  /**
   * `settle: 'detached'` resolves once the file is detached again (free for any other reader);
   * `'committed'`, for the records written while a run is going on (its start, its batches),
   * resolves once the transaction has committed (durable in the WAL) while the detach goes on in
   * the background. `'held'` (a build's start only) also leaves the file attached for a moment
   * (`LINGER_MILLIS`, up to `MAX_HOLD_MILLIS` since the file was attached): when the build finds
   * nothing to build, its finish follows within it, reuses the attachment, and the two share one
   * detach — one checkpoint, 10–60 ms, instead of two. Any other access to the file from this
   * process releases it first (see `serialized`); other processes retry on the lock until it is
   * released. An extract's records never hold the file: between two of them the process parses
   * and writes bronze for as long as a batch takes, and a process stopped or busy there (SIGSTOP,
   * a long synchronous stretch) would keep every other process's writes waiting on a lock no timer
   * can release. A run's last record (`finishRun`) always settles detached: when an operation
   * returns, the file is free.
   */
  private inTransaction<T>(fn: (c: DuckDBConnection) => Promise<T>, settle: Settle, writes = true): Promise<T> {
    const file = path.resolve(this.file);
    const key = fileQueueKey(file);
    let committed!: (out: T) => void;
    const early = new Promise<T>((resolve) => (committed = resolve));
    const whole = serialized(
      key,
      async (held) => {
        try {
          return await this.attachedTransaction(key, file, held, fn, settle, committed, writes);
        } catch (error) {
          throw metricsFileError(file, error);
        }
      },
      this,
    );
    return settle === 'detached' ? whole : Promise.race([early, whole]);
  }

  /**
   * Detaches the file now, in the background, if a record left it attached: for a run that knows
   * its next record is far off (a build with models to build), so that the checkpoint overlaps
   * its lighter work instead of its heaviest.
   */
  release(): void {
    void serialized(fileQueueKey(path.resolve(this.file)), () => Promise.resolve()).catch(() => undefined);
  }

  /** When the file was last attached (a held attachment is reused only while it is younger than `MAX_HOLD_MILLIS`). */
  private attachedAt = 0;

  /** One transaction on the attached file (see `inTransaction`), inside the file's queue; `held`: this lake left it attached. */
  private async attachedTransaction<T>(
    key: string,
    file: string,
    held: boolean,
    fn: (c: DuckDBConnection) => Promise<T>,
    settle: Settle,
    committed: (out: T) => void,
    writes: boolean,
  ): Promise<T> {
    const { connection: c } = await this.connectHost();
    if (held && Date.now() - this.attachedAt >= MAX_HOLD_MILLIS) {
      await this.detach(c);
      held = false;
    }
    if (!held) {
      await this.attach(c, file);
      this.attachedAt = Date.now();
    }
    // A write's detach checkpoints: the copy that can undo it (last-checkpoint.ts) overlaps the transaction.
    if (writes) this.lastCheckpoint.start();
    let hold = false;
    try {
      await c.run(`USE ${METRICS_ALIAS}`);
      if (!this.initialized) {
        for (const ddl of METRICS_DDL) await c.run(ddl);
        await dropKeys(c, file);
        this.initialized = true;
      }
      await c.run('BEGIN TRANSACTION');
      try {
        const out = await fn(c);
        await c.run('COMMIT');
        if (settle !== 'detached') committed(out);
        hold = settle === 'held' && Date.now() - this.attachedAt < MAX_HOLD_MILLIS;
        return out;
      } catch (error) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      if (hold) holdOpen(key, this, () => this.detach(c), Math.min(LINGER_MILLIS, MAX_HOLD_MILLIS - (Date.now() - this.attachedAt)));
      else await this.detach(c);
    }
  }

  private async attach(c: DuckDBConnection, file: string): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const attach = async (): Promise<void> => {
      await retryOnLock(file, this.lockTimeoutMillis, () => c.run(`ATTACH ${quoteLiteral(file)} AS ${METRICS_ALIAS}`));
    };
    try {
      await attach();
    } catch (error) {
      const restored = await restoreLastCheckpoint(file, error, attach, this.lockTimeoutMillis);
      if (restored === false) throw error;
      if (restored !== 'opened') this.warn(restored.restored);
    }
  }

  /**
   * Detaches the file (releasing its lock); if that fails, closes the host instance, which does
   * too. Runs inside the file's queue, so it must not wait on that queue (`close` does).
   */
  private async detach(c: DuckDBConnection): Promise<void> {
    try {
      await c.run('USE memory');
      // The detach checkpoints: first keep the file it starts from (see last-checkpoint.ts).
      await this.lastCheckpoint.beforeDetach().catch((error: unknown) => {
        this.warn(`could not keep ${lastCheckpointFile(this.lastCheckpoint.file)}, the copy a checkpoint torn by a kill is undone from: ${error instanceof Error ? error.message : String(error)}`);
      });
      await c.run(`DETACH ${METRICS_ALIAS}`);
    } catch {
      await this.lastCheckpoint.settle();
      await this.closeHost();
    }
  }

  /** Closes the in-memory host (the file is never left attached between calls) once the last detach is done. */
  async close(): Promise<void> {
    // In the file's queue: the copy's descriptor (last-checkpoint.ts) closes while no attach of
    // this process is under way (closing it would drop that attach's lock).
    await serialized(fileQueueKey(this.file), () => this.closeHost());
  }

  private async closeHost(): Promise<void> {
    const host = this.host;
    this.host = undefined;
    if (host) {
      const { instance, connection } = await host.catch(() => ({ instance: undefined, connection: undefined }));
      connection?.closeSync();
      instance?.closeSync();
    }
    // The instance holds no lock on the file any more: its descriptor may close.
    this.lastCheckpoint.close();
  }

  async select(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    return this.transaction(async (c) => readerRows(await c.runAndReadAll(sql, params)), false);
  }

  async init(): Promise<void> {
    await this.transaction(async () => undefined, false);
  }

  async startRun(runId: string, kind: RunKind, startedAt: Date): Promise<void> {
    await this.inTransaction((c) => insertRun(c, runId, kind, startedAt), 'committed');
  }

  /**
   * Records a build's start and reads what the build needs from the metrics db in the same
   * transaction (one open of the file instead of three): which bronze files are visible, and
   * when each dataset last extracted successfully (for the timeliness score). Resolves at the
   * commit, like every record written while a run goes on, and leaves the file attached for a
   * moment (`'held'`): a build that finds nothing to build writes its finish through it.
   * `readAt` (`performance.now()`) is when the inputs were read: a build that took its lock after
   * that reads them again (`buildInputs`), since an extract may have started meanwhile.
   */
  startBuild(runId: string, startedAt: Date): Promise<BuildInputs & { readAt: number }> {
    return this.inTransaction(async (c) => {
      await insertRun(c, runId, 'build', startedAt);
      const readAt = performance.now();
      return { ...(await readBuildInputs(c)), readAt };
    }, 'held');
  }

  /** What `startBuild` reads, read again (a build whose start was recorded before it got its lock). */
  buildInputs(): Promise<BuildInputs> {
    return this.transaction(readBuildInputs, false);
  }

  /** Each model's latest quality score (`schema.name` → score). */
  async lastScores(): Promise<Map<string, RecordedScore>> {
    return scoreMap(await this.select(LAST_SCORES_SQL));
  }

  /**
   * What a run knows before it finishes, stored as its result until `finishRun` replaces it: a
   * file write, no transaction, so readers of a run that dies still find it (`asOfRunCutoff`).
   */
  savePartialResult(runId: string, result: Record<string, unknown>): void {
    writeFileAtomic(runResultFile(this.file, runId), JSON.stringify(result));
  }

  async finishRun(
    runId: string,
    fields: FinishFields,
    extra: FinishExtra = {},
  ): Promise<void> {
    // The result goes to its own file first (see run-results.ts); a finish without one removes a
    // file an earlier, failed attempt may have left.
    const resultFile = runResultFile(this.file, runId);
    if (fields.result === undefined) fs.rmSync(resultFile, { force: true });
    else writeFileAtomic(resultFile, JSON.stringify(redact(fields.result)));
    const finishFile = unrecordedFinishFile(this.file, runId);
    try {
      await this.recordFinish(runId, fields, extra);
    } catch (error) {
      // The result file already says how the run ended: the next open records that, not `abandoned`.
      const finish: UnrecordedFinish = {
        status: fields.status, rows: fields.rows ?? 0, rejected: fields.rejected ?? 0, files: fields.files ?? 0, bytes: fields.bytes ?? 0,
        error: fields.error ? (redact(fields.error) as string) : null, finishedAt: Date.now(),
        ...(fields.stopped === true ? { stopped: true } : {}),
        // Its other rows only when the file could not be had: rows DuckDB refused would fail every later open.
        ...(error instanceof LockError && Object.keys(extra).length > 0 ? { extra: storedExtra(extra) } : {}),
      };
      writeFileAtomic(finishFile, JSON.stringify(finish));
      throw error;
    }
    fs.rmSync(finishFile, { force: true });
  }

  private async recordFinish(runId: string, fields: FinishFields, extra: FinishExtra): Promise<void> {
    await this.transaction(async (c) => {
      await insertFinishExtra(c, runId, extra);
      const [updated] = readerRows(
        await c.runAndReadAll(
          `UPDATE runs SET status = $2, finished_at = now(), duration_ms = CAST(epoch_ms(now()) - epoch_ms(started_at) AS BIGINT),
             rows = $3, rejected = $4, files = $5, bytes = $6, error = $7
           WHERE run_id = $1 RETURNING kind`,
          [
            runId,
            fields.status,
            fields.rows ?? 0,
            fields.rejected ?? 0,
            fields.files ?? 0,
            fields.bytes ?? 0,
            fields.error ? (redact(fields.error) as string) : null,
          ],
        ),
      );
      // The run kind's run_failed alert, from the row just updated (no run row: nothing to alert on).
      if (updated) await applyRunEnd(c, runId, String(updated.kind), fields.stopped === true ? (fields.error ?? fields.status) : null);
    });
  }

  /** Records one committed bronze batch: its files and its row counts, atomically. */
  async recordBatch(batch: BatchCommit): Promise<void> {
    await this.inTransaction(async (c) => {
      const existing = readerRows(await c.runAndReadAll(`SELECT count(*) AS n FROM source_batches WHERE run_id = $1 AND source = $2 AND dataset = $3 AND batch_no = $4`, [batch.runId, batch.source, batch.dataset, batch.batchNo]));
      if (Number(existing[0]?.n ?? 0) > 0) return; // recovery replays a commit already recorded
      // A rolled-forward batch counts as committed when it was: a dead run ends at its last activity.
      const committedAt = batch.committedAt ? `TIMESTAMPTZ '${batch.committedAt.toISOString()}'` : 'now()';
      // 100 files per INSERT (a batch over 1,000 store × day partitions paid one statement and one
      // scan of bronze_files per file); a file already recorded (a replayed commit) is skipped.
      for (const chunk of chunks(batch.files)) {
        let n = 0;
        const values = chunk.map(() => `(${Array.from({ length: 8 }, () => `$${++n}`).join(', ')})`);
        await c.run(
          `INSERT INTO bronze_files (path, run_id, source, dataset, batch_no, partition, rows, bytes, committed_at)
           SELECT v.path, v.run_id, v.source, v.dataset, v.batch_no, v.partition::JSON, v.rows, v.bytes, ${committedAt}
           FROM (VALUES ${values.join(', ')}) AS v(path, run_id, source, dataset, batch_no, partition, rows, bytes)
           WHERE NOT EXISTS (SELECT 1 FROM bronze_files AS b WHERE b.path = v.path)`,
          chunk.flatMap((f) => [f.path, batch.runId, batch.source, batch.dataset, batch.batchNo, JSON.stringify(f.partition), f.rows, f.bytes]),
        );
      }
      await c.run(
        `INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, cursor, committed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::JSON, ${committedAt})`,
        [
          batch.runId,
          batch.source,
          batch.dataset,
          batch.batchNo,
          batch.rows,
          batch.rejected,
          batch.files.length,
          batch.files.reduce((s, f) => s + f.bytes, 0),
          recordedCursor(batch),
        ],
      );
      // Not when its run has them already: a run whose record of this batch failed recorded its
      // drift at its end (evaluateExtract), and the next open rolls the batch forward.
      await recordSchemaChanges(c, batch.runId, batch.source, batch.dataset, batch.schemaChanges ?? [], committedAt);
      if (batch.profiles && batch.profiles.length > 0) {
        const appender = await c.createAppender('column_profiles', 'main', METRICS_ALIAS);
        for (const p of batch.profiles) {
          appender.appendVarchar(batch.runId);
          appender.appendVarchar(batch.source);
          appender.appendVarchar(batch.dataset);
          appender.appendInteger(batch.batchNo);
          appender.appendVarchar(p.column);
          appender.appendVarchar(p.type);
          appender.appendBigInt(BigInt(p.rows));
          appender.appendDouble(p.nullShare);
          appender.appendBigInt(BigInt(Math.round(p.approxDistinct)));
          if (p.min === null) appender.appendNull();
          else appender.appendVarchar(p.min);
          if (p.max === null) appender.appendNull();
          else appender.appendVarchar(p.max);
          appender.endRow();
        }
        appender.closeSync();
      }
    }, 'committed');
  }

  async recordHttpStats(runId: string, source: string, dataset: string, stats: HttpHostStats[]): Promise<void> {
    if (stats.length === 0) return;
    await this.inTransaction(
      (c) =>
        insertRows(
          c,
          'http_stats',
          stats.map((h) => [runId, source, dataset, h.host, h.requests, h.retries, JSON.stringify(h.statuses), h.bytes, Math.round(h.latencyMs), Math.round(h.throttledMs), h.breakerOpens]),
        ),
      'committed',
    );
  }

  async recordSourceResult(runId: string, r: {
    source: string; dataset: string; scope?: string; status: string; rows: number; rejected: number; files: number; bytes: number;
    requests: number; retries: number; durationMs: number; error?: string;
  }): Promise<void> {
    await this.inTransaction(
      (c) =>
        c.run(
          `INSERT INTO source_results (run_id, source, dataset, status, rows, rejected, files, bytes, requests, retries, duration_ms, error, finished_at, scope)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), $13)`,
          [runId, r.source, r.dataset, r.status, r.rows, r.rejected, r.files, r.bytes, r.requests, r.retries, Math.round(r.durationMs), r.error ? (redact(r.error) as string) : null, r.scope ?? null],
        ),
      'committed',
    );
  }

  /** Files hidden from readers (removed) and compaction outputs switched in: see `scanBronze`. */
  async bronzeVisibility(): Promise<BronzeVisibility> {
    return toVisibility(await this.select(VISIBILITY_SQL));
  }

  /** What the metrics db knows of a dataset's files. */
  async bronzeRecords(source: string, dataset: string): Promise<Map<string, { rows: number; removed: boolean }>> {
    const files = await this.select(`SELECT path, rows, removed_at IS NOT NULL AS removed FROM bronze_files WHERE source = $1 AND dataset = $2`, [source, dataset]);
    return new Map(files.map((r) => [String(r.path), { rows: Number(r.rows), removed: Boolean(r.removed) }]));
  }

  /**
   * The switch of a compaction or prune, in one transaction: `added` files become visible and
   * `removed` ones hidden (rows are added for removed files the metrics db never saw).
   */
  async switchBronzeFiles(change: { runId: string; source: string; dataset: string; added: BronzeFileRow[]; removed: (BronzeFileRow & { runId: string })[] }): Promise<void> {
    await this.transaction(async (c) => {
      // Thousands of files switch at once: staged with an appender, applied in two statements
      // (one INSERT per file took ~10 ms each, holding the file lock for the whole switch).
      await c.run(`CREATE OR REPLACE TEMP TABLE switch_files (path VARCHAR, run_id VARCHAR, partition VARCHAR, rows BIGINT, bytes BIGINT, removed BOOLEAN)`);
      const appender = await c.createAppender('switch_files');
      const add = (f: BronzeFileRow, runId: string, removed: boolean): void => {
        appender.appendVarchar(f.path);
        appender.appendVarchar(runId);
        appender.appendVarchar(JSON.stringify(f.partition));
        appender.appendBigInt(BigInt(f.rows));
        appender.appendBigInt(BigInt(f.bytes));
        appender.appendBoolean(removed);
        appender.endRow();
      };
      for (const f of change.added) add(f, change.runId, false);
      for (const f of change.removed) add(f, f.runId, true);
      appender.closeSync();
      // bronze_files has no key constraint (an index made every later checkpoint slower as the
      // table grew): existing paths are updated, new ones inserted.
      await c.run(
        `UPDATE bronze_files SET removed_at = NULL, removed_by = NULL, rows = s.rows, bytes = s.bytes, committed_at = now()
         FROM switch_files s WHERE bronze_files.path = s.path AND NOT s.removed`,
      );
      await c.run(
        `INSERT INTO bronze_files (path, run_id, source, dataset, batch_no, partition, rows, bytes, committed_at)
         SELECT path, run_id, $1, $2, 0, partition::JSON, rows, bytes, now() FROM switch_files s
         WHERE NOT s.removed AND NOT EXISTS (SELECT 1 FROM bronze_files b WHERE b.path = s.path)`,
        [change.source, change.dataset],
      );
      await c.run(`UPDATE bronze_files SET removed_at = now(), removed_by = $1 FROM switch_files s WHERE bronze_files.path = s.path AND s.removed`, [change.runId]);
      await c.run(
        `INSERT INTO bronze_files (path, run_id, source, dataset, batch_no, partition, rows, bytes, committed_at, removed_at, removed_by)
         SELECT path, run_id, $1, $2, -1, partition::JSON, rows, bytes, now(), now(), $3 FROM switch_files s
         WHERE s.removed AND NOT EXISTS (SELECT 1 FROM bronze_files b WHERE b.path = s.path)`,
        [change.source, change.dataset, change.runId],
      );
      await c.run(`DROP TABLE switch_files`);
    });
  }

  /** Removed files (relative paths) whose removal is older than `before`. */
  async removedBronzeFiles(before: Date): Promise<string[]> {
    const rows = await this.select(`SELECT path FROM bronze_files WHERE removed_at IS NOT NULL AND removed_at <= $1::TIMESTAMPTZ ORDER BY path`, [before.toISOString()]);
    return rows.map((r) => String(r.path));
  }

  /**
   * When the earliest build or `lake.test` run still running started (its process alive, or of
   * another host): such a run listed the bronze files visible then, and reads them until it ends
   * (a build may also publish views naming them).
   */
  async earliestRunningReader(): Promise<Date | undefined> {
    const rows = await this.select(`SELECT run_id, status, started_at, host, pid, proc_start FROM runs WHERE status = 'running' AND kind IN ('build', 'test') ORDER BY started_at`);
    const live = rows.find((r) => !isDeadRun(r));
    return live?.started_at instanceof Date ? live.started_at : undefined;
  }

  /**
   * Marks `running` runs whose process is gone as `abandoned`, or as they finished when only their
   * finish record failed (`finishRun`), as every reader reads them (`readDeadRuns`). Returns the ids
   * of the abandoned ones. Runs for which `unrecovered` is true (a batch of theirs is past its
   * commit point and not rolled forward yet) stay `running`: their files are hidden from readers
   * until the batch is recorded whole. `beforeMarking` gets the dead runs' ids before they are
   * marked: a kill in it leaves them `running`, for the next open to call it again.
   */
  async markAbandoned(unrecovered: (run: RunOwnerRow) => boolean = () => false, beforeMarking: (runIds: string[]) => void = () => undefined): Promise<string[]> {
    // Mostly a read (`writes` false): when it does write, the detach copies the file first all the same.
    const readings = await this.transaction(async (c) => {
      const running = (readerRows(await c.runAndReadAll(`SELECT run_id, kind, status, host, pid, proc_start FROM runs WHERE status = 'running'`)) as unknown as RunOwnerRow[]).filter((r) => !unrecovered(r));
      const query = async (sql: string): Promise<string[]> => readerRows(await c.runAndReadAll(sql)).map((r) => String(r.dead_run));
      const dead = [...(await readDeadRuns(this.file, running, query, undefined, this.otherHostAbandonHours)).values()];
      // Its finish's other rows with it, once: the run is no longer `running` once this commits.
      for (const d of dead) if (d.finish?.extra) await insertFinishExtra(c, d.runId, finishExtraOf(d.finish.extra), d.finishedAt);
      // Its kind's run_failed alert, as its finish would have left it, unless a run of that kind
      // ended after it (finished, or found abandoned by an earlier open): an abandoned run opens it;
      // a finish recorded late opens it when the run stopped before doing its work, and resolves it
      // otherwise. Oldest first, so the latest says.
      for (const d of [...dead].sort((a, b) => a.finishedAt - b.finishedAt)) {
        const kind = String(running.find((r) => r.run_id === d.runId)?.kind);
        const later = readerRows(
          await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM runs WHERE kind = $1 AND status <> 'running' AND finished_at > to_timestamp($2::DOUBLE / 1000)`, [kind, d.finishedAt]),
        );
        if (Number(later[0]?.n) > 0) continue;
        const failure = d.finish ? (d.finish.stopped === true ? (d.finish.error ?? d.finish.status) : null) : `abandoned: ${d.error ?? ABANDONED_ERROR}`;
        await applyRunEnd(c, d.runId, kind, failure, new Date(d.finishedAt));
      }
      // The drift an abandoned run committed (recorded with its first batch) is alerted as its end would have.
      for (const d of dead) if (!d.finish) await alertAbandonedDrift(c, d.runId, new Date(d.finishedAt));
      if (dead.length > 0) {
        beforeMarking(dead.map((d) => d.runId));
        // A dead run ended at its last recorded activity, not when a later process noticed: the
        // report draws a run from its start to its end, and a dead run found days later is not days long.
        let n = 0;
        const values = dead.map(() => `(${Array.from({ length: 9 }, () => `$${++n}`).join(', ')})`);
        await c.run(
          `UPDATE runs SET status = d.status, finished_at = to_timestamp(d.finished_ms::DOUBLE / 1000), duration_ms = d.duration_ms::BIGINT,
             rows = d.rows::BIGINT, rejected = d.rejected::BIGINT, files = d.files::INTEGER, bytes = d.bytes::BIGINT, error = d.error
           FROM (VALUES ${values.join(', ')}) AS d(run_id, status, finished_ms, duration_ms, rows, rejected, files, bytes, error)
           WHERE runs.run_id = d.run_id AND runs.status = 'running'`,
          dead.flatMap((d) => [d.runId, d.status, d.finishedAt, d.durationMs, d.rows, d.rejected, d.files, d.bytes, d.error]),
        );
      }
      return dead;
    }, false);
    // Removed once recorded: an open that failed before leaves them to the next one.
    for (const d of readings) if (d.finish) fs.rmSync(unrecordedFinishFile(this.file, d.runId), { force: true });
    return readings.filter((d) => !d.finish).map((d) => d.runId);
  }

  /** The latest runs, newest first (read-only, through the light reader `duckhouse runs` uses). */
  async runs(limit: number): Promise<RunRecord[]> {
    return readRuns(path.resolve(this.file), limit, this.lockTimeoutMillis, true, this.otherHostAbandonHours);
  }
}

/**
 * The `schema_drift` alerts of a run that died after committing the drift it brought (its
 * `schema_changes` rows), one per dataset, unless its end raised them before it died.
 */
async function alertAbandonedDrift(c: DuckDBConnection, runId: string, at: Date): Promise<void> {
  const raised = readerRows(await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM alerts WHERE run_id = $1 AND kind = 'schema_drift'`, [runId]));
  if (Number(raised[0]?.n) > 0) return;
  const drift = await runDriftAlerts(c, runId);
  if (drift.length === 0) return;
  await applyAlerts(c, runId, drift, [], undefined, at);
}
