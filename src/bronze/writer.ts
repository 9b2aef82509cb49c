/**
 * BronzeWriter: validated records in, whole Hive-partitioned Parquet files out.
 *
 * Records are encoded column by column into DuckDB data chunks (≤ 2,048 rows) appended to a
 * buffer table in the lake's in-memory engine. Every `flushRows` rows or `flushBytes` bytes
 * the buffer is sealed as a batch, written with one `COPY … PARTITION_BY … COMPRESSION zstd`
 * into a private temp folder and committed (see commit.ts), then dropped, so memory stays flat
 * whatever the run size. A batch is written on its own connection while the next one fills
 * (runSource keeps at most one in flight and commits them in order).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { BOOLEAN, DOUBLE, VARCHAR, DuckDBDataChunk } from '../db/duckdb.js';
import type { ColumnSpec, WireType } from './schema-map.js';
import { dateParts, partitionOfDir, partitionValue } from './partition.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { readerRows } from '../db/values.js';
import { applyMoves, commitCursorDir, commitCursorName, storedManifest, undoMoves, writeCommitCursor, writeManifest, type CommitManifest, type RecordedSchemaFile } from './commit.js';
import { stringifyJsonExact } from '../extract/json-exact.js';
import type { BronzeFileRow, ColumnProfile, MetricsDb } from '../metrics/metrics-db.js';
import type { SchemaChange } from '../metrics/alerts.js';
import { DuckhouseError, errorMessage, PartitionError } from '../errors.js';
import { listTree } from '../fs-list.js';

const CHUNK_ROWS = 2048;
/**
 * Full data chunks (CHUNK_ROWS rows) filled in one reused DuckDBDataChunk, renewed after this many
 * uses: node-api builds a vector's JS view (a copy of its data and validity) once per chunk, which
 * cost as much as the doubles written into them; a VARCHAR vector's string heap grows with each use.
 */
const CHUNK_REUSES = 16;
const MAX_PARTITIONS_PER_KEY = 10_000;
/** Raw partition values remembered per key and batch (see BronzeWriter.rawIds). */
const RAW_IDS_MAX = 2 * MAX_PARTITIONS_PER_KEY;
/** Rows sampled per batch to estimate distinct counts. */
const PROFILE_SAMPLE = 20_000;
/** Past this many columns a batch's distinct values are counted in one grouping of all its values (see `profile`). */
const PROFILE_GROUP = 50;
const WIRE_TYPES: Record<WireType, DuckDBType> = { VARCHAR, DOUBLE, BOOLEAN };

export interface PartitionKey {
  name: string;
  /** The raw value for a record; sanitised by `partitionValue`. */
  get: (record: Record<string, unknown>) => unknown;
  /** The value of a constant key (`{ store: 'a' }`): the source's own slice of the dataset, which scopes its cursor. */
  constant?: string | number;
}

export interface BronzeWriterOptions {
  /** Buffers the rows (buffer tables, appenders). */
  connection: DuckDBConnection;
  /**
   * Writes and commits sealed batches (COPY, footers, profiles), so that a batch is written
   * while the next one is buffered on `connection`. Defaults to `connection`.
   */
  flushConnection?: DuckDBConnection;
  /** Absolute lake root (`data/`). */
  root: string;
  /** Absolute, process-private temp folder. */
  tmpDir: string;
  source: string;
  dataset: string;
  runId: string;
  timezone: string;
  columns: ColumnSpec[];
  partitionKeys: PartitionKey[];
  flushRows: number;
  flushBytes: number;
  metrics: MetricsDb;
  /**
   * Numbers shared by every writer of one run, so batches and files of two sources writing the
   * same dataset (three stores of one connector) never collide.
   */
  sequence: RunSequence;
}

export interface RunSequence {
  nextBatch(): number;
  nextFile(): number;
}

export function runSequence(): RunSequence {
  let batch = 0;
  let file = 0;
  return { nextBatch: () => ++batch, nextFile: () => ++file };
}

export interface FlushExtra {
  /** Records rejected since the last flush, counted with this batch. */
  rejected?: number;
  /** The source's cursor covering this batch, recorded with it. */
  cursor?: unknown;
  /** `cursor` written out, when the caller has it (see BatchCommit.cursorJson). */
  cursorJson?: Uint8Array;
  /** Its scope (see CursorKey), for recovery to save it under the right name. */
  cursorScope?: string;
  /** The run's schema drift, on its first committed batch (see BatchCommit.schemaChanges). */
  schemaChanges?: SchemaChange[];
  /** The dataset's schema to record, on the same batch: in its manifest for a roll-forward (see CommitManifest.schema). */
  schema?: RecordedSchemaFile;
  /** Runs after the batch is recorded and before its commit manifest is removed. */
  afterRecord?: () => Promise<void>;
  /** Runs once the batch is past its commit point for good: in bronze, or left for the next open to roll forward. */
  committed?: () => void;
}

/** A batch taken out of the buffer, to be written by `write`. */
export interface SealedBatch {
  table: string;
  rows: number;
  batchNo: number;
  /** The partition-value and day dictionaries its rows' ids refer to. */
  dictionaries: Map<string | null, number>[];
  days: Map<string, number>;
}

/** A record `append` did not buffer: its index in the call, the field (partition or column) and why. */
export interface RefusedRecord {
  index: number;
  field: string;
  message: string;
  /** `invalid_partition` or `unstorable_value`. */
  code: 'invalid_partition' | 'unstorable_value';
}

export interface CommittedBatch {
  batchNo: number;
  rows: number;
  files: BronzeFileRow[];
  bytes: number;
}

export class BronzeWriter {
  private readonly o: BronzeWriterOptions;
  private readonly where: string;
  /** Wire columns: data columns, partition keys, then _extracted_at ms and year/month/day. */
  private readonly wireTypes: DuckDBType[];
  private pending: (string | number | boolean | null)[][];
  private pendingRows = 0;
  private appender: DuckDBAppender | undefined;
  /** The reused full chunk and how many times it was appended (see CHUNK_REUSES). */
  private fullChunk: DuckDBDataChunk | undefined;
  private fullChunkUses = 0;
  private table: string | undefined;
  private bufferedRows = 0;
  private bufferedBytes = 0;
  private readonly datasetDir: string;
  /** Per partition key: value → id, for the batch being buffered. */
  private dictionaries: Map<string | null, number>[];
  /**
   * Per partition key: a raw value (string, number, boolean) → its id, for the batch being
   * buffered: a value seen before is not checked and encoded again (partitionValue costs a
   * regex, a UTF-8 copy and a scan per record; a batch has few distinct values).
   */
  private rawIds: Map<unknown, number>[];
  /** 'YYYY-MM-DD' → id, for the batch being buffered. */
  private days = new Map<string, number>();
  /** One record's partition value ids (reused). */
  private readonly partitionIds: number[] = [];
  /** Columns with a value check (see ColumnSpec.check). */
  private readonly checked: ColumnSpec[];

  /** Totals of what this writer committed. */
  readonly totals = { rows: 0, files: 0, bytes: 0, batches: 0 };

  constructor(options: BronzeWriterOptions) {
    this.o = options;
    this.where = `source ${options.source}/${options.dataset}`;
    this.wireTypes = [
      ...options.columns.map((c) => WIRE_TYPES[c.wire]),
      ...options.partitionKeys.map(() => DOUBLE),
      DOUBLE,
      DOUBLE,
    ];
    this.dictionaries = options.partitionKeys.map(() => new Map());
    this.rawIds = options.partitionKeys.map(() => new Map());
    this.checked = options.columns.filter((c) => c.check !== undefined);
    this.pending = this.wireTypes.map(() => []);
    this.datasetDir = path.join(options.root, 'bronze', options.source, options.dataset);
  }

  /** Rows buffered and not yet committed. */
  get buffered(): number {
    return this.bufferedRows + this.pendingRows;
  }

  /** Whether the buffer reached a flush threshold. */
  get shouldFlush(): boolean {
    return this.buffered >= this.o.flushRows || this.bufferedBytes >= this.o.flushBytes;
  }

  /**
   * Encodes valid records into the buffer; all get the same `_extracted_at`. A record whose
   * partition value cannot be stored (control characters, too long for a folder name, the Hive
   * null marker) or whose partition function throws is not buffered: it comes back with the
   * reason, for the quarantine.
   */
  async append(records: Record<string, unknown>[], extractedAt: Date): Promise<RefusedRecord[]> {
    const { columns, partitionKeys } = this.o;
    const extractedMs = extractedAt.getTime();
    // year/month/day come from one dictionary id per row: the date is the same for the whole call
    // (dateParts formats it once per UTC minute).
    const { year, month, day } = dateParts(extractedAt, this.o.timezone);
    const dayKey = `${year}-${month}-${day}`;
    let dayId = this.days.get(dayKey);
    if (dayId === undefined) {
      dayId = this.days.size;
      this.days.set(dayKey, dayId);
    }
    const nData = columns.length;
    const nPart = partitionKeys.length;
    const ids = this.partitionIds;
    const checked = this.checked;
    const refused: RefusedRecord[] = [];
    let bytes = 0;
    try {
      for (let r = 0; r < records.length; r++) {
        const record = records[r]!;
        // Values the columns cannot take, then partition values: a refused record leaves nothing in the buffer.
        if (checked.length > 0 && !this.fits(record, r, refused)) continue;
        if (nPart > 0 && !this.partitionIdsOf(record, ids, r, refused)) continue;
        // Row `row` of each pending column; the row counts once all its values are in.
        const row = this.pendingRows;
        const pending = this.pending;
        for (let i = 0; i < nData; i++) {
          const spec = columns[i]!;
          const value = spec.encode(record[spec.name]);
          bytes += typeof value === 'string' ? value.length + 4 : 8;
          pending[i]![row] = value;
        }
        for (let k = 0; k < nPart; k++) pending[nData + k]![row] = ids[k]!;
        pending[nData + nPart]![row] = extractedMs;
        pending[nData + nPart + 1]![row] = dayId;
        this.pendingRows = row + 1;
        if (this.pendingRows === CHUNK_ROWS) await this.appendPending();
      }
    } finally {
      // A record that failed half-way leaves no part of it in the buffer: its values sit past
      // `pendingRows`, to be written over.
      this.bufferedBytes += bytes;
    }
    return refused;
  }

  /** Whether every checked column takes the record's value; if not, the record is in `refused`. */
  private fits(record: Record<string, unknown>, index: number, refused: RefusedRecord[]): boolean {
    for (const spec of this.checked) {
      const why = spec.check!(record[spec.name]);
      if (why !== undefined) {
        refused.push({ index, field: spec.name, message: `${this.where}: field "${spec.name}": ${why}`, code: 'unstorable_value' });
        return false;
      }
    }
    return true;
  }

  /**
   * Puts a record's partition value ids into `ids`; false (and the record in `refused`) when a
   * value cannot be stored or its partition function throws. Too many distinct values in one batch throws: that is the
   * partitioning, not the record.
   */
  private partitionIdsOf(record: Record<string, unknown>, ids: number[], index: number, refused: RefusedRecord[]): boolean {
    const { partitionKeys } = this.o;
    for (let k = 0; k < partitionKeys.length; k++) {
      const key = partitionKeys[k]!;
      let raw: unknown;
      let value: string | null;
      try {
        raw = key.get(record);
        const known = this.rawIds[k]!.get(raw);
        if (known !== undefined) {
          ids[k] = known;
          continue;
        }
        value = partitionValue(key.name, raw, this.where, this.o.timezone);
      } catch (error) {
        // A partition function that throws on a record (a null field it reads) is that record's
        // problem, as a value that cannot be stored is: not a reason to fail the source.
        const message = error instanceof PartitionError ? error.message : `${this.where}: partition key "${key.name}" threw: ${errorMessage(error)}`;
        refused.push({ index, field: key.name, message, code: 'invalid_partition' });
        return false;
      }
      // Partition values travel as ids into a per-key dictionary: few distinct values, one double each.
      const dict = this.dictionaries[k]!;
      let id = dict.get(value);
      if (id === undefined) {
        id = dict.size;
        if (id >= MAX_PARTITIONS_PER_KEY) {
          throw new PartitionError(`${this.where}: partition field "${key.name}" has more than ${MAX_PARTITIONS_PER_KEY} distinct values in one batch; partition by a coarser field`);
        }
        dict.set(value, id);
      }
      ids[k] = id;
      // Only values that stand for themselves (a Date is a new object each time), and not without bound.
      const rawIds = this.rawIds[k]!;
      if ((typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') && rawIds.size < RAW_IDS_MAX) rawIds.set(raw, id);
    }
    return true;
  }

  private async ensureTable(): Promise<DuckDBAppender> {
    if (this.appender) return this.appender;
    const name = `buf_${this.o.source}_${this.o.dataset}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const cols = this.wireTypes.map((t, i) => `w${i} ${t.toString()}`).join(', ');
    await this.o.connection.run(`CREATE TABLE ${quoteIdent(name)} (${cols})`);
    this.table = name;
    this.appender = await this.o.connection.createAppender(name);
    return this.appender;
  }

  private async appendPending(): Promise<void> {
    if (this.pendingRows === 0) return;
    const appender = await this.ensureTable();
    let chunk: DuckDBDataChunk;
    if (this.pendingRows === CHUNK_ROWS) {
      // Every value of every column is set again below (validity too), and the appender copies
      // the chunk's data when it takes it: nothing of the previous use is left in what it appends.
      if (!this.fullChunk || this.fullChunkUses >= CHUNK_REUSES) {
        this.fullChunk = DuckDBDataChunk.create(this.wireTypes, CHUNK_ROWS);
        this.fullChunkUses = 0;
      }
      chunk = this.fullChunk;
      this.fullChunkUses += 1;
    } else {
      chunk = DuckDBDataChunk.create(this.wireTypes, this.pendingRows);
    }
    // The pending columns are reused from chunk to chunk (written by row, never emptied): a short chunk takes their first rows.
    const full = this.pendingRows === CHUNK_ROWS;
    for (let i = 0; i < this.pending.length; i++) chunk.setColumnValues(i, full ? this.pending[i]! : this.pending[i]!.slice(0, this.pendingRows));
    appender.appendDataChunk(chunk);
    this.bufferedRows += this.pendingRows;
    this.pendingRows = 0;
  }

  /**
   * Takes everything buffered out of the buffer as one batch (numbered now, so batches keep the
   * order they were sealed in); the buffer is empty and takes more rows at once. Undefined when
   * nothing was buffered. Call it when no `append` is running.
   */
  async seal(): Promise<SealedBatch | undefined> {
    await this.appendPending();
    if (this.bufferedRows === 0 || !this.appender || !this.table) return undefined;
    this.appender.flushSync();
    this.appender.closeSync();
    this.appender = undefined;
    const sealed: SealedBatch = { table: this.table, rows: this.bufferedRows, batchNo: this.o.sequence.nextBatch(), dictionaries: this.dictionaries, days: this.days };
    this.table = undefined;
    this.bufferedRows = 0;
    this.bufferedBytes = 0;
    this.dictionaries = this.o.partitionKeys.map(() => new Map());
    this.rawIds = this.o.partitionKeys.map(() => new Map());
    this.days = new Map();
    return sealed;
  }

  /**
   * Writes a sealed batch to Parquet and commits it, on the flush connection; its buffer table is
   * dropped. `rejected` and `cursor` are recorded with it.
   */
  async write(sealed: SealedBatch, extra: FlushExtra = {}): Promise<CommittedBatch> {
    const c = this.o.flushConnection ?? this.o.connection;
    const stage = path.join(this.o.tmpDir, `${this.o.runId}-${this.o.source}-${this.o.dataset}-${sealed.batchNo}`);
    try {
      await this.copy(c, sealed, stage);
      return await this.commit(c, stage, sealed, extra);
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${quoteIdent(sealed.table)}`);
      // A manifest left behind means the batch passed its commit point: recovery needs the stage.
      if (!fs.existsSync(`${stage}.commit.json`)) fs.rmSync(stage, { recursive: true, force: true });
    }
  }

  private async copy(c: DuckDBConnection, sealed: SealedBatch, stage: string): Promise<void> {
    const { columns, partitionKeys, runId } = this.o;
    const nData = columns.length;
    const ext = `w${nData + partitionKeys.length}`;
    const days = [...sealed.days.keys()];
    const dayPart = (from: number, to: number): string =>
      `(CAST([${days.map((d) => quoteLiteral(d.slice(from, to))).join(', ')}] AS VARCHAR[]))[CAST(w${nData + partitionKeys.length + 1} AS INTEGER) + 1]`;
    const select = [
      ...columns.map((c, i) => `${c.castSql(`w${i}`)} AS ${quoteIdent(c.name)}`),
      `${quoteLiteral(runId)} AS _run_id`,
      // Epoch microseconds straight to TIMESTAMPTZ: no time zone lookup per row (timezone() is ~4× slower).
      `make_timestamptz(CAST(${ext} AS BIGINT) * 1000) AS _extracted_at`,
      ...partitionKeys.map((k, j) => {
        const values = [...sealed.dictionaries[j]!.keys()].map((v) => (v === null ? 'NULL' : quoteLiteral(v)));
        return `(CAST([${values.join(', ')}] AS VARCHAR[]))[CAST(w${nData + j} AS INTEGER) + 1] AS ${quoteIdent(k.name)}`;
      }),
      `${dayPart(0, 4)} AS year`,
      `${dayPart(5, 7)} AS month`,
      `${dayPart(8, 10)} AS day`,
    ];
    const partitionBy = [...partitionKeys.map((k) => quoteIdent(k.name)), 'year', 'month', 'day'].join(', ');
    fs.mkdirSync(path.dirname(stage), { recursive: true });
    try {
      await c.run(
        `COPY (SELECT ${select.join(', ')} FROM ${quoteIdent(sealed.table)}) TO ${quoteLiteral(stage)}
         (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${partitionBy}), FILENAME_PATTERN 'part_{i}')`,
      );
    } catch (error) {
      throw new DuckhouseError('BRONZE_WRITE_FAILED', `${this.where}: writing Parquet failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private async commit(c: DuckDBConnection, stage: string, sealed: SealedBatch, extra: FlushExtra): Promise<CommittedBatch> {
    const { batchNo, rows } = sealed;
    const produced = listTree(stage).filter((f) => f.endsWith('.parquet')).sort();
    const counts = new Map<string, number>();
    for (const r of readerRows(
      await c.runAndReadAll(`SELECT file_name, num_rows FROM parquet_file_metadata(${quoteLiteral(path.join(stage, '**', '*.parquet'))})`),
    )) {
      counts.set(path.resolve(String(r.file_name)), Number(r.num_rows));
    }
    const moves: CommitManifest['moves'] = [];
    const files: BronzeFileRow[] = [];
    for (const rel of produced) {
      const from = path.join(stage, rel);
      const partitionDir = path.dirname(rel);
      const to = path.join(this.datasetDir, partitionDir, `${this.o.runId}-${this.o.sequence.nextFile()}.parquet`);
      // DuckDB percent-encodes partition values; this is the belt to those braces.
      if (!path.resolve(to).startsWith(this.datasetDir + path.sep)) {
        throw new DuckhouseError('PARTITION_INVALID', `${this.where}: partition path ${JSON.stringify(partitionDir)} escapes the dataset folder`);
      }
      const partition = partitionOfDir(partitionDir);
      moves.push({ from, to });
      files.push({
        path: path.relative(this.o.root, to),
        partition,
        rows: counts.get(path.resolve(from)) ?? 0,
        bytes: fs.statSync(from).size,
      });
    }
    const written = files.reduce((n, f) => n + f.rows, 0);
    if (written !== rows) {
      // Two partition values sharing a folder would overwrite each other's file: never commit that.
      throw new DuckhouseError('BRONZE_WRITE_FAILED', `${this.where}: the batch's files hold ${written} rows, not the ${rows} buffered; nothing committed`);
    }
    const profiles = await this.profile(c, stage, sealed);
    const batch = {
      profiles,
      runId: this.o.runId,
      source: this.o.source,
      dataset: this.o.dataset,
      batchNo,
      rows,
      rejected: extra.rejected ?? 0,
      cursor: extra.cursor,
      ...(extra.cursorJson === undefined ? {} : { cursorJson: extra.cursorJson }),
      ...(extra.cursorScope === undefined ? {} : { cursorScope: extra.cursorScope }),
      ...(extra.schemaChanges && extra.schemaChanges.length > 0 ? { schemaChanges: extra.schemaChanges } : {}),
      files,
    };
    const manifestFile = `${stage}.commit.json`;
    // The cursor (a next-page link may carry an access token) goes to data/state/ only, whole for
    // a roll-forward; the manifest names its file (see commit.ts).
    const cursorDir = commitCursorDir(this.o.root);
    const cursorFile = extra.cursor === undefined ? undefined : commitCursorName(this.o.tmpDir, this.o.runId, batchNo);
    const { cursor: _cursor, cursorJson: _json, ...withoutCursor } = batch;
    try {
      if (cursorFile !== undefined) writeCommitCursor(cursorDir, cursorFile, extra.cursorJson ?? stringifyJsonExact(extra.cursor));
      writeManifest(manifestFile, storedManifest(this.o.root, { batch: withoutCursor, moves, ...(cursorFile === undefined ? {} : { cursorFile }), ...(extra.schema ? { schema: extra.schema } : {}) }));
      try {
        applyMoves(moves);
      } catch (error) {
        // Some of the batch's files are in bronze, not all: once this run ends they would read as
        // committed, part of a batch. Taken back out, the batch is not committed (the cursor stays
        // before it); left in part only when that fails too, for the next open to roll forward.
        if (undoMoves(moves)) fs.rmSync(manifestFile, { force: true });
        else extra.committed?.();
        throw error;
      }
      extra.committed?.();
      await this.o.metrics.recordBatch(batch);
      await extra.afterRecord?.();
      fs.rmSync(manifestFile, { force: true });
    } finally {
      // Kept as long as a manifest names it: the next open rolls that batch forward with it.
      if (cursorFile !== undefined && !fs.existsSync(manifestFile)) fs.rmSync(path.join(cursorDir, cursorFile), { force: true });
    }
    const bytes = files.reduce((s, f) => s + f.bytes, 0);
    this.totals.rows += rows;
    this.totals.files += files.length;
    this.totals.bytes += bytes;
    this.totals.batches += 1;
    return { batchNo, rows, files, bytes };
  }

  /**
   * Column profiles of the batch just written. Null counts and min/max come from the Parquet
   * footers DuckDB just wrote (no data read); the distinct count is counted exactly in a Bernoulli
   * sample of about PROFILE_SAMPLE rows of the batch's buffer table, still in memory (reading the
   * Parquet back for a reservoir sample cost ~40 % of the COPY), and scaled to the batch (see
   * `estimate`). When every sampled value is distinct, the column counts as unique.
   */
  private async profile(c: DuckDBConnection, stage: string, sealed: SealedBatch): Promise<ColumnProfile[]> {
    const columns = this.o.columns;
    const { rows } = sealed;
    if (columns.length === 0 || rows === 0) return [];
    const files = quoteLiteral(path.join(stage, '**', '*.parquet'));
    const numeric = (t: string): boolean => t === 'BIGINT' || t === 'DOUBLE' || t === 'HUGEINT';
    const stats = new Map(
      readerRows(
        await c.runAndReadAll(
          `SELECT path_in_schema AS col, sum(stats_null_count) AS nulls,
             min(stats_min_value) AS lo, max(stats_max_value) AS hi,
             arg_min(stats_min_value, TRY_CAST(stats_min_value AS DOUBLE)) AS nlo,
             arg_max(stats_max_value, TRY_CAST(stats_max_value AS DOUBLE)) AS nhi
           FROM parquet_metadata(${files}) GROUP BY 1`,
        ),
      ).map((r) => [String(r.col), r]),
    );
    const scalar = (t: string): boolean => !t.startsWith('STRUCT') && !t.endsWith('[]') && t !== 'JSON';
    const sampleClause = rows > PROFILE_SAMPLE ? ` TABLESAMPLE ${((PROFILE_SAMPLE / rows) * 100).toFixed(6)}% (bernoulli)` : '';
    // Exact counts over the sample: DuckDB's approx_count_distinct (HyperLogLog) is off by up to
    // ~25 % at 20,000 values, which made unique columns look non-unique. Per column: non-null
    // values (nn), distinct values (d) and values seen once (f1).
    const valueOf = (col: (typeof columns)[number], i: number): string => (scalar(col.sqlType) ? col.castSql(`w${i}`) : `CAST(${col.castSql(`w${i}`)} AS VARCHAR)`);
    const counted: Record<string, unknown>[] = [];
    if (columns.length <= PROFILE_GROUP) {
      // One branch per column, each grouping its own typed values.
      const branches = columns.map(
        (col, i) => `SELECT ${i} AS i, sum(k) AS nn, count(*) AS d, count(*) FILTER (WHERE k = 1) AS f1 FROM (SELECT ${valueOf(col, i)} AS v, count(*) AS k FROM s WHERE v IS NOT NULL GROUP BY 1)`,
      );
      branches.unshift('SELECT -1 AS i, count(*) AS nn, 0 AS d, 0 AS f1 FROM s');
      counted.push(...readerRows(await c.runAndReadAll(`WITH s AS MATERIALIZED (SELECT * FROM ${quoteIdent(sealed.table)}${sampleClause}) ${branches.join(' UNION ALL ')}`)));
    } else {
      // A wide batch: DuckDB plans a UNION ALL in time quadratic in its branches, and even 50
      // branches at a time cost ~7 ms per column (600 columns: 4 s a batch). Every value goes
      // through one grouping instead, as text tagged with its column (a value's text is as
      // distinct as the value), unnested from two lists of the same length side by side.
      const tags = columns.map((_, i) => i).join(', ');
      const values = columns.map((col, i) => `CAST(${col.castSql(`w${i}`)} AS VARCHAR)`).join(', ');
      counted.push(
        ...readerRows(
          await c.runAndReadAll(
            `WITH s AS MATERIALIZED (SELECT * FROM ${quoteIdent(sealed.table)}${sampleClause}) ` +
              `SELECT -1 AS i, count(*) AS nn, 0 AS d, 0 AS f1 FROM s UNION ALL ` +
              `SELECT i, sum(k) AS nn, count(*) AS d, count(*) FILTER (WHERE k = 1) AS f1 FROM (` +
              `SELECT i, v, count(*) AS k FROM (SELECT unnest([${tags}]) AS i, unnest([${values}]) AS v FROM s) WHERE v IS NOT NULL GROUP BY 1, 2` +
              `) GROUP BY 1`,
          ),
        ),
      );
    }
    const byColumn = new Map(counted.map((r) => [Number(r.i), { nn: Number(r.nn ?? 0), d: Number(r.d ?? 0), f1: Number(r.f1 ?? 0) }]));
    const sampled = byColumn.get(-1)?.nn ?? 0;
    /** Distinct values in the whole batch: exact when the sample is the batch; else unique stays unique, and the GEE estimate (√(N/n)·f1 + d − f1) for the rest. */
    const estimate = ({ nn, d, f1 }: { nn: number; d: number; f1: number }): number => {
      if (sampled === 0 || sampled >= rows) return d;
      const nonNull = Math.round((nn / sampled) * rows);
      if (nn > 0 && d === nn) return nonNull;
      return Math.min(nonNull, Math.max(d, Math.round(Math.sqrt(rows / sampled) * f1 + (d - f1))));
    };
    return columns.map((c, i) => {
      const st = scalar(c.sqlType) ? stats.get(c.name) : undefined;
      const fmt = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
      return {
        column: c.name,
        type: c.sqlType,
        rows,
        nullShare: st ? Number(st.nulls ?? 0) / rows : 0,
        approxDistinct: estimate(byColumn.get(i) ?? { nn: 0, d: 0, f1: 0 }),
        // Numbers compare as numbers (the footer keeps them as text: '10' < '9' as strings).
        min: st ? fmt(numeric(c.sqlType) ? st.nlo : st.lo) : null,
        max: st ? fmt(numeric(c.sqlType) ? st.nhi : st.hi) : null,
      };
    });
  }

  /** Drops the buffer without writing (the source failed before a flush). */
  async discard(): Promise<void> {
    this.appender?.closeSync();
    this.appender = undefined;
    if (this.table) await this.o.connection.run(`DROP TABLE IF EXISTS ${quoteIdent(this.table)}`);
    this.table = undefined;
    this.pending = this.wireTypes.map(() => []);
    this.pendingRows = 0;
    this.bufferedRows = 0;
    this.bufferedBytes = 0;
    this.dictionaries = this.o.partitionKeys.map(() => new Map());
    this.rawIds = this.o.partitionKeys.map(() => new Map());
    this.days = new Map();
  }
}
